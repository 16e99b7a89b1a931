; PrivaCT Windows installer (NSIS 3, Unicode). Per-machine install into Program Files,
; Start-menu shortcut, "Open with" registration for .dcm (application/dicom), uninstaller,
; and an entry in Settings > Apps.
;
; Build (see packaging/README.md; packaging/windows/build-windows.ps1 does all of it):
;   makensis /DVERSION=0.1.0 /DBINARY=..\..\target\release\privact.exe ^
;            /DOUTFILE=..\..\target\packages\PrivaCT-0.1.0-x64-setup.exe privact.nsi
; Paths are relative to this file. makensis also runs on Linux (Debian package `nsis`).

Unicode true
SetCompressor /SOLID lzma

!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!ifndef BINARY
  !define BINARY "..\..\target\release\privact.exe"
!endif
!ifndef OUTFILE
  !define OUTFILE "..\..\target\packages\PrivaCT-${VERSION}-x64-setup.exe"
!endif

!define APPNAME "PrivaCT"
!define EXENAME "privact.exe"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APPNAME}"

!include "MUI2.nsh"
!include "x64.nsh"

Name "${APPNAME} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APPNAME}"
InstallDirRegKey HKLM "Software\${APPNAME}" "InstallDir"
RequestExecutionLevel admin
BrandingText "${APPNAME} ${VERSION}"

; Version resource of setup.exe (the VI version must have four numeric parts).
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APPNAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APPNAME} installer"
VIAddVersionKey "LegalCopyright" "MIT OR Apache-2.0"

!define MUI_ICON "..\icons\privact.ico"
!define MUI_UNICON "..\icons\privact.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXENAME}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APPNAME}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APPNAME} needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Section "Install"
  SetShellVarContext all
  SetOutPath "$INSTDIR"
  ; Model assets are embedded in privact.exe, so this is the whole program.
  File "/oname=${EXENAME}" "${BINARY}"
  File "..\icons\privact.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APPNAME}.lnk" "$INSTDIR\${EXENAME}" "" "$INSTDIR\privact.ico"

  ; "Open with PrivaCT" for DICOM files, without taking over the default handler.
  WriteRegStr HKLM "Software\Classes\Applications\${EXENAME}\shell\open\command" "" '"$INSTDIR\${EXENAME}" "%1"'
  WriteRegStr HKLM "Software\Classes\Applications\${EXENAME}" "FriendlyAppName" "${APPNAME}"
  WriteRegStr HKLM "Software\Classes\Applications\${EXENAME}\SupportedTypes" ".dcm" ""
  WriteRegStr HKLM "Software\Classes\.dcm\OpenWithList\${EXENAME}" "" ""
  WriteRegStr HKLM "Software\Classes\.dcm" "Content Type" "application/dicom"

  WriteRegStr HKLM "Software\${APPNAME}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTKEY}" "Publisher" "PrivaCT authors"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\privact.ico"
  WriteRegStr HKLM "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoRepair" 1
SectionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Uninstall"
  SetShellVarContext all
  Delete "$SMPROGRAMS\${APPNAME}.lnk"
  Delete "$INSTDIR\${EXENAME}"
  Delete "$INSTDIR\privact.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "Software\Classes\Applications\${EXENAME}"
  DeleteRegValue HKLM "Software\Classes\.dcm\OpenWithList\${EXENAME}" ""
  DeleteRegKey HKLM "Software\Classes\.dcm\OpenWithList\${EXENAME}"
  DeleteRegKey HKLM "Software\${APPNAME}"
  DeleteRegKey HKLM "${UNINSTKEY}"
SectionEnd
