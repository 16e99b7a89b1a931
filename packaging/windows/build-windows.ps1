# Builds target\packages\PrivaCT-<version>-x64-setup.exe on a Windows host.
# Needs: Rust (rustup, MSVC toolchain x86_64-pc-windows-msvc + Visual Studio Build Tools) and
# NSIS 3 (makensis on PATH, e.g. `winget install NSIS.NSIS`). Run from the repository root:
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build-windows.ps1
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

$version = (Select-String -Path Cargo.toml -Pattern '^version\s*=\s*"([^"]+)"' | Select-Object -First 1).Matches[0].Groups[1].Value
cargo build --release --locked --bin privact
if ($LASTEXITCODE -ne 0) { throw "cargo build failed" }
& .\target\release\privact.exe --version
if ($LASTEXITCODE -ne 0) { throw "privact.exe --version failed" }

New-Item -ItemType Directory -Force -Path target\packages | Out-Null
Push-Location packaging\windows
try {
  makensis /V2 "/DVERSION=$version" "/DBINARY=..\..\target\release\privact.exe" "/DOUTFILE=..\..\target\packages\PrivaCT-$version-x64-setup.exe" privact.nsi
  if ($LASTEXITCODE -ne 0) { throw "makensis failed" }
} finally { Pop-Location }
Get-Item "target\packages\PrivaCT-$version-x64-setup.exe"
