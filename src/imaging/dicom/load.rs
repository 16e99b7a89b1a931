//! Bytes → parsed object → one decoded frame as a [`Slice`].

use std::borrow::Cow;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use dicom_core::PrimitiveValue;
use dicom_core::value::Value as DicomValue;
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::pixels::{self, Photometric, PixelFormat};
use super::scan::{self, Encoding};
use super::tags::{self as ti, DicomInfo};
use super::transfer_syntax::{self as tsx, PixelCodec, Supported};
use super::{cp246, frames, libjpeg, rle};
use crate::imaging::error::{ErrorKind, ImagingError, one_line};
use crate::imaging::slice::{Slice, Units};

/// Largest file read into memory (1 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Largest inflated data set of a deflated file.
const MAX_INFLATED_BYTES: u64 = 1 << 30;
/// Largest accepted Rows or Columns.
pub const MAX_DIMENSION: u32 = 16_384;
/// Largest frame (Rows × Columns) decoded: 64 Mpx.
pub const MAX_FRAME_PIXELS: u64 = 1 << 26;
/// Largest number of frames accepted.
const MAX_FRAMES: u32 = 100_000;

/// Options of [`load_dicom`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// 0-based frame of a multi-frame object.
    pub frame: u32,
}

/// Reads a file into memory after checking its size against [`MAX_FILE_BYTES`].
pub(crate) fn read_capped(path: &Path) -> Result<Vec<u8>, ErrorKind> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_FILE_BYTES {
        return Err(ErrorKind::TooLarge(format!(
            "file is {len} bytes (limit {MAX_FILE_BYTES})"
        )));
    }
    let mut buf = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Loads one frame of a DICOM file.
pub fn load_dicom(path: &Path, opts: &LoadOptions) -> Result<Slice, ImagingError> {
    let bytes = read_capped(path).map_err(|k| ImagingError::new(path, k))?;
    load_dicom_bytes(&bytes, path, opts)
}

/// Loads one frame from DICOM bytes; `path` only labels errors.
pub fn load_dicom_bytes(
    bytes: &[u8],
    path: &Path,
    opts: &LoadOptions,
) -> Result<Slice, ImagingError> {
    let err = |k| ImagingError::new(path, k);
    let parsed = parse(bytes).map_err(err)?;
    decode(&parsed, opts.frame).map_err(err)
}

/// Loads every frame of a DICOM file, reading and parsing it once (a multi-frame file as
/// a series). An error when it has more than `max_frames` frames, or for the first frame
/// that does not decode.
pub fn load_dicom_frames(path: &Path, max_frames: u32) -> Result<Vec<Slice>, ImagingError> {
    let err = |k| ImagingError::new(path, k);
    let bytes = read_capped(path).map_err(err)?;
    let parsed = parse(&bytes).map_err(err)?;
    let frames = parsed.info.frames.max(1);
    if frames > max_frames {
        return Err(err(ErrorKind::TooLarge(format!(
            "{frames} frames (at most {max_frames} are read)"
        ))));
    }
    (0..frames)
        .map(|f| decode(&parsed, f).map_err(err))
        .collect()
}

/// Reads only the typed tags (no pixel decoding), e.g. to describe a file
/// whose pixels this build cannot decode.
pub fn read_info_bytes(bytes: &[u8], path: &Path) -> Result<DicomInfo, ImagingError> {
    parse(bytes)
        .map(|p| p.info)
        .map_err(|k| ImagingError::new(path, k))
}

struct Parsed {
    obj: DefaultDicomObject,
    info: DicomInfo,
    ts: Result<Supported, String>,
    /// Why the encapsulated fragments could not be split into frames, if they could not.
    frame_split: Option<String>,
}

/// Where the file meta group starts, if the file has one.
fn meta_start(bytes: &[u8]) -> Option<usize> {
    if bytes.get(128..132) == Some(b"DICM".as_slice()) {
        Some(132)
    } else if bytes.get(0..4) == Some(b"DICM".as_slice()) {
        Some(4)
    } else {
        None
    }
}

/// Guesses the encoding of a data set with no meta header from its first element.
fn sniff(data: &[u8]) -> Option<Encoding> {
    let group_le = u16::from_le_bytes([*data.first()?, *data.get(1)?]);
    let group_be = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
    let plausible = |g: u16| (0x0002..=0x0010).contains(&g) && g.is_multiple_of(2);
    let vr = data.get(4..6)?;
    let explicit = dicom_core::VR::from_binary([vr[0], vr[1]]).is_some();
    if plausible(group_le) {
        let enc = if explicit {
            Encoding::EXPLICIT_LE
        } else {
            Encoding::IMPLICIT_LE
        };
        // The first element must fit, or this is just bytes that look alike.
        let h = scan::read_header(data, 0, enc)?;
        return (h.len != u32::MAX && h.header_len + h.len as usize <= data.len()).then_some(enc);
    }
    if plausible(group_be) && explicit {
        return Some(Encoding::EXPLICIT_BE);
    }
    None
}

fn uid_for(enc: Encoding) -> &'static str {
    match (enc.explicit_vr, enc.little_endian) {
        (false, _) => tsx::IMPLICIT_VR_LE,
        (true, true) => tsx::EXPLICIT_VR_LE,
        (true, false) => tsx::EXPLICIT_VR_BE,
    }
}

/// Renders an error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = one_line(e);
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = one_line(c);
        if !m.is_empty() && !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Finds a headless data set at the start of `bytes`, tolerating up to three
/// stray leading bytes (seen from broken exporters) when the whole data set
/// then checks out.
fn find_headless(bytes: &[u8]) -> Option<(usize, Encoding)> {
    (0..4).find_map(|off| {
        let data = bytes.get(off..)?;
        let enc = sniff(data)?;
        (off == 0 || scan::scan_dataset(data, off as u64, enc).is_ok()).then_some((off, enc))
    })
}

/// The encoding the data set really uses: some writers declare an explicit VR
/// syntax but write implicit VR (the first header tells).
fn actual_encoding(dataset: &[u8], declared: Encoding) -> Encoding {
    if !declared.explicit_vr || dataset.len() < 8 {
        return declared;
    }
    let vr_ok = dataset
        .get(4..6)
        .and_then(|v| dicom_core::VR::from_binary([v[0], v[1]]))
        .is_some();
    let group = u16::from_le_bytes([dataset[0], dataset[1]]);
    if vr_ok || group == 0xFFFE {
        return declared;
    }
    let implicit = Encoding {
        explicit_vr: false,
        little_endian: declared.little_endian,
    };
    if sniff(dataset) == Some(implicit) {
        implicit
    } else {
        declared
    }
}

fn parse(bytes: &[u8]) -> Result<Parsed, ErrorKind> {
    // `have_meta`: a meta group the standard reader will walk to exactly
    // where this scan puts the data set.
    let mut repairs = Vec::new();
    let (ts_uid, dataset_start, have_meta) = match meta_start(bytes) {
        Some(ms) => {
            let rest = bytes.get(ms..).unwrap_or_default();
            let meta = scan::scan_meta(rest, ms as u64)?;
            let mut ds = ms + meta.len;
            let mut have_meta = meta.group_length_matches;
            // A second group 0002 after the one its group length bounds (PS3.10 §7.1): the
            // first is authoritative; the stale one is skipped, not read as the data set.
            if meta.group_length_matches
                && let Some(stale) = bytes
                    .get(ds..)
                    .and_then(|r| scan::scan_meta(r, ds as u64).ok())
                    .filter(|m| m.len > 0)
            {
                repairs.push(format!(
                    "ignored a second file meta group ({} bytes at byte {ds}{})",
                    stale.len,
                    stale
                        .transfer_syntax
                        .as_deref()
                        .map(|t| format!(", transfer syntax {t}"))
                        .unwrap_or_default()
                ));
                ds += stale.len;
                have_meta = false;
            }
            match meta.transfer_syntax {
                Some(uid) => (uid, ds, have_meta),
                None => {
                    // Meta group without a transfer syntax: guess from the data set.
                    let enc = sniff(bytes.get(ds..).unwrap_or_default()).ok_or_else(|| {
                        ErrorKind::Malformed(
                            "file meta has no transfer syntax and the data set encoding is not recognisable"
                                .into(),
                        )
                    })?;
                    (uid_for(enc).to_string(), ds, false)
                }
            }
        }
        None => {
            let (off, enc) = find_headless(bytes).ok_or_else(|| {
                ErrorKind::NotDicom(
                    "no DICM marker and no recognisable data set at the start".into(),
                )
            })?;
            (uid_for(enc).to_string(), off, false)
        }
    };
    let dataset = bytes.get(dataset_start..).unwrap_or_default();
    let ts = tsx::classify(&ts_uid);
    let ts_name = tsx::name_of(&ts_uid);

    // Structure check before any parser allocation (see scan.rs).
    let deflated = ts.as_ref().map(|s| s.deflated).unwrap_or(false);
    let declared = match &ts {
        Ok(s) => s.encoding,
        // Refused syntaxes are still parsed for their tags; every standard
        // one but implicit LE / explicit BE is explicit VR LE.
        Err(_) => Encoding::EXPLICIT_LE,
    };
    let encoding = if deflated {
        declared
    } else {
        actual_encoding(dataset, declared)
    };
    if deflated {
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(dataset)
            .take(MAX_INFLATED_BYTES + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| ErrorKind::Malformed(format!("deflated data set: {}", one_line(e))))?;
        if inflated.len() as u64 > MAX_INFLATED_BYTES {
            return Err(ErrorKind::TooLarge(
                "inflated data set exceeds 1 GiB".into(),
            ));
        }
        scan::scan_dataset(&inflated, 0, encoding).map_err(|e| match e {
            ErrorKind::Truncated { offset, what } => ErrorKind::Truncated {
                offset,
                what: format!("{what} (offset in the inflated data set)"),
            },
            other => other,
        })?;
    }
    let repaired = if deflated {
        None
    } else {
        repair(dataset, dataset_start, encoding, &mut repairs)?
    };
    // The whole file again, with the repaired data set after the same meta group.
    let joined;
    let (bytes, dataset) = match repaired {
        Some(ds) => {
            let mut all = bytes.get(..dataset_start).unwrap_or_default().to_vec();
            all.extend_from_slice(&ds);
            joined = all;
            (joined.as_slice(), ds_tail(&joined, dataset_start))
        }
        None => (bytes, dataset),
    };

    let standard = if have_meta && encoding == declared {
        let from = meta_start(bytes).map(|m| m - 4).unwrap_or(0);
        OpenFileOptions::new()
            .read_preamble(ReadPreamble::Never)
            .from_reader(bytes.get(from..).unwrap_or_default())
            .map_err(|e| ErrorKind::Malformed(chain(&e)))
    } else {
        Err(ErrorKind::Malformed("no usable file meta group".into()))
    };
    let obj = match standard {
        Ok(o) => o,
        // A meta group dicom-object rejects (e.g. no group length), an
        // encoding that differs from the declared one, or no meta at all:
        // read the data set alone and attach a meta group we build.
        Err(first) => {
            let parse_uid = if deflated {
                ts_uid.as_str()
            } else {
                uid_for(encoding)
            };
            let registry_ts = TransferSyntaxRegistry.get(parse_uid).ok_or_else(|| {
                ErrorKind::Malformed(format!("unknown transfer syntax {parse_uid}"))
            })?;
            let ds = InMemDicomObject::read_dataset_with_ts(dataset, registry_ts).map_err(|e| {
                if have_meta && encoding == declared {
                    first
                } else {
                    ErrorKind::Malformed(chain(&e))
                }
            })?;
            let sop_class = ti::string(&ds, tags::SOP_CLASS_UID)
                .unwrap_or_else(|| "1.2.840.10008.5.1.4.1.1.7".into());
            let sop_inst =
                ti::string(&ds, tags::SOP_INSTANCE_UID).unwrap_or_else(|| "2.25.0".into());
            let meta = FileMetaTableBuilder::new()
                .transfer_syntax(ts_uid.as_str())
                .media_storage_sop_class_uid(sop_class)
                .media_storage_sop_instance_uid(sop_inst)
                .build()
                .map_err(|e| ErrorKind::Malformed(chain(&e)))?;
            ds.with_exact_meta(meta)
        }
    };
    let mut info = ti::read_info(&obj, &ts_uid, &ts_name);
    info.repairs = repairs;
    let mut obj = obj;
    let frame_split = one_fragment_per_frame(&mut obj, info.frames);
    Ok(Parsed {
        obj,
        info,
        ts,
        frame_split,
    })
}

fn ds_tail(all: &[u8], start: usize) -> &[u8] {
    all.get(start..).unwrap_or_default()
}

/// Most repairs applied to one data set.
const MAX_REPAIRS: usize = 8;

/// Checks the structure of a (non-deflated) data set and repairs what other readers read:
/// VR UN sequences of undefined length (CP-246, PS3.5 §6.2.2) are transcoded to explicit
/// VR, and a malformed *private* sequence is skipped when the data set goes on cleanly after
/// it. Returns the repaired data set, or `None` when it is fine as it is; each repair is
/// described in `repairs`.
fn repair(
    dataset: &[u8],
    dataset_start: usize,
    encoding: Encoding,
    repairs: &mut Vec<String>,
) -> Result<Option<Vec<u8>>, ErrorKind> {
    let mut current: Option<Vec<u8>> = None;
    for _ in 0..MAX_REPAIRS {
        let data = current.as_deref().unwrap_or(dataset);
        match scan::scan_dataset(data, dataset_start as u64, encoding) {
            Ok(r) if r.un_sequences > 0 && encoding.explicit_vr => {
                let out = cp246::rewrite(data, encoding)?;
                repairs.push(format!(
                    "read {} VR UN sequence(s) of undefined length as implicit VR little endian (CP-246)",
                    r.un_sequences
                ));
                current = Some(out);
            }
            Ok(_) => return Ok(current),
            Err(ErrorKind::MalformedSequence {
                group,
                element,
                offset,
                reason,
            }) if group % 2 == 1 && current.is_none() => {
                let start = (offset as usize).saturating_sub(dataset_start);
                let tag = dicom_core::Tag(group, element);
                let Some(next) = scan::resync_after(data, start, tag, encoding) else {
                    return Err(ErrorKind::MalformedSequence {
                        group,
                        element,
                        offset,
                        reason: format!("{reason}; no readable element follows it"),
                    });
                };
                let mut out = data.get(..start).unwrap_or_default().to_vec();
                out.extend_from_slice(data.get(next..).unwrap_or_default());
                repairs.push(format!(
                    "skipped the malformed private sequence ({group:04X},{element:04X}) at byte {offset} ({} bytes)",
                    next - start
                ));
                current = Some(out);
            }
            Err(e) => return Err(e),
        }
    }
    Err(ErrorKind::Malformed(format!(
        "more than {MAX_REPAIRS} repairs needed"
    )))
}

/// Regroups encapsulated pixel data so each frame is one fragment (see [`frames::split`]),
/// which is what the codecs of `dicom-pixeldata` expect when fragments and frames differ in
/// number. Returns the split error, if any, for [`decode`] to report.
fn one_fragment_per_frame(obj: &mut DefaultDicomObject, frames: u32) -> Option<String> {
    let elem = obj.element_opt(tags::PIXEL_DATA).ok().flatten()?;
    let DicomValue::PixelSequence(seq) = elem.value() else {
        return None;
    };
    if seq.fragments().len() == frames as usize {
        return None;
    }
    let groups = match frames::split(seq.fragments(), seq.offset_table(), frames) {
        Ok(g) => g,
        Err(e) => return Some(e.to_string()),
    };
    let merged: Vec<Vec<u8>> = groups
        .into_iter()
        .map(|r| seq.fragments().get(r).unwrap_or_default().concat())
        .collect();
    let vr = elem.vr();
    obj.put(dicom_object::mem::InMemElement::new(
        tags::PIXEL_DATA,
        vr,
        DicomValue::PixelSequence(dicom_core::value::PixelFragmentSequence::new(
            Vec::<u32>::new(),
            merged,
        )),
    ));
    None
}

/// Normalises native pixel data to little-endian bytes.
fn native_le_bytes<'a>(
    v: &'a PrimitiveValue,
    big_endian: bool,
    bits_allocated: u16,
) -> Result<Cow<'a, [u8]>, ErrorKind> {
    let mut out: Vec<u8> = match v {
        PrimitiveValue::U8(b) => {
            if !big_endian || bits_allocated <= 8 {
                return Ok(Cow::Borrowed(b.as_slice()));
            }
            let w = usize::from(bits_allocated / 8);
            let mut o = b.to_vec();
            for chunk in o.chunks_exact_mut(w) {
                chunk.reverse();
            }
            return Ok(Cow::Owned(o));
        }
        PrimitiveValue::U16(w) => w.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I16(w) => w.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U32(w) => w.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I32(w) => w.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::Empty => return Err(ErrorKind::NoPixelData),
        _ => {
            return Err(ErrorKind::UnsupportedImage(
                "pixel data stored with an unexpected value representation".into(),
            ));
        }
    };
    // OW words of 32-bit samples were swapped word by word; put the halves in order.
    if big_endian
        && bits_allocated == 32
        && matches!(v, PrimitiveValue::U16(_) | PrimitiveValue::I16(_))
    {
        for q in out.chunks_exact_mut(4) {
            q.swap(0, 2);
            q.swap(1, 3);
        }
    }
    Ok(Cow::Owned(out))
}

fn pixel_format(info: &DicomInfo) -> Result<PixelFormat, ErrorKind> {
    if info.rows == 0 || info.columns == 0 {
        return Err(ErrorKind::UnsupportedImage(format!(
            "image has {} rows and {} columns",
            info.rows, info.columns
        )));
    }
    if info.rows > MAX_DIMENSION || info.columns > MAX_DIMENSION {
        return Err(ErrorKind::TooLarge(format!(
            "{}×{} (limit {MAX_DIMENSION} per side)",
            info.rows, info.columns
        )));
    }
    if u64::from(info.rows) * u64::from(info.columns) > MAX_FRAME_PIXELS {
        return Err(ErrorKind::TooLarge(format!(
            "{}×{} exceeds {MAX_FRAME_PIXELS} pixels",
            info.rows, info.columns
        )));
    }
    if info.frames > MAX_FRAMES {
        return Err(ErrorKind::TooLarge(format!(
            "{} frames (limit {MAX_FRAMES})",
            info.frames
        )));
    }
    let fmt = PixelFormat {
        rows: info.rows as usize,
        cols: info.columns as usize,
        samples: usize::from(info.samples_per_pixel),
        bits_allocated: info.bits_allocated,
        bits_stored: info.bits_stored,
        signed: info.pixel_representation == 1,
        planar: false,
        photometric: Photometric::parse(info.photometric_interpretation.as_deref()),
    };
    fmt.validate()?;
    Ok(fmt)
}

/// A JPEG frame header (SOF, ITU-T T.81 §B.2.2).
#[derive(Debug, Clone, Copy)]
struct Sof {
    /// The SOFn marker's second byte (0xC0 baseline, 0xC1 extended, 0xC3 lossless …).
    marker: u8,
    precision: u8,
    rows: u16,
    cols: u16,
    components: u8,
}

impl Sof {
    /// Lossless processes (SOF3, 7, 11, 15; T.81 Table B.1).
    fn lossless(&self) -> bool {
        matches!(self.marker, 0xC3 | 0xC7 | 0xCB | 0xCF)
    }
}

/// Reads the SOF of the first JPEG frame in `data`.
fn jpeg_sof(data: &[u8]) -> Option<Sof> {
    let mut i = data.windows(2).position(|w| w == [0xFF, 0xD8])? + 2;
    loop {
        if *data.get(i)? != 0xFF {
            i += 1;
            continue;
        }
        let marker = *data.get(i + 1)?;
        if marker == 0xFF || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 1 + usize::from(marker != 0xFF);
            continue;
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let p = *data.get(i + 4)?;
            let h = u16::from_be_bytes([*data.get(i + 5)?, *data.get(i + 6)?]);
            let w = u16::from_be_bytes([*data.get(i + 7)?, *data.get(i + 8)?]);
            let c = *data.get(i + 9)?;
            return Some(Sof {
                marker,
                precision: p,
                rows: h,
                cols: w,
                components: c,
            });
        }
        i += 2 + len;
    }
}

/// Checks a JPEG frame's header against the tags and returns it. DCT streams of 9–12 bits
/// and lossless streams go to libjpeg-turbo ([`libjpeg`]); more than 12 bits is not DCT
/// JPEG (T.81 §B.2.2).
fn check_jpeg(stream: &[u8], fmt: &PixelFormat, uid: &str, name: &str) -> Result<Sof, ErrorKind> {
    let Some(sof) = jpeg_sof(stream) else {
        return Err(ErrorKind::Decode(
            "no JPEG frame header (SOF) in the frame's data".into(),
        ));
    };
    if !sof.lossless() && sof.precision > 12 {
        return Err(ErrorKind::UnsupportedTransferSyntax {
            uid: uid.to_string(),
            name: name.to_string(),
            reason: format!("{}-bit lossy JPEG (DCT allows 8 or 12 bits)", sof.precision),
        });
    }
    // The codec copies decoded rows into a buffer sized from Rows/Columns; a
    // JPEG larger than the tags say must be refused before it gets there.
    if usize::from(sof.rows) != fmt.rows
        || usize::from(sof.cols) != fmt.cols
        || usize::from(sof.components) != fmt.samples
    {
        return Err(ErrorKind::Decode(format!(
            "JPEG stream is {}×{}×{} but the tags say {}×{}×{}",
            sof.cols, sof.rows, sof.components, fmt.cols, fmt.rows, fmt.samples
        )));
    }
    Ok(sof)
}

/// Checks the JPEG 2000 SIZ header of the first fragment against the tags,
/// so the codec never sizes buffers from unchecked codestream fields.
fn check_j2k(first_fragment: &[u8], fmt: &PixelFormat) -> Result<(), ErrorKind> {
    let bad = |m: String| ErrorKind::Decode(format!("JPEG 2000: {m}"));
    let at = first_fragment
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])
        .ok_or_else(|| bad("no codestream header (SOC/SIZ)".into()))?;
    let siz = first_fragment
        .get(at + 4..at + 4 + 38)
        .ok_or_else(|| bad("SIZ segment cut short".into()))?;
    let u32_at = |o: usize| -> u64 {
        siz.get(o..o + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 4]| u64::from(u32::from_be_bytes(b)))
    };
    // Offsets within SIZ after the marker: Lsiz 0, Rsiz 2, Xsiz 4, Ysiz 8,
    // XOsiz 12, YOsiz 16, XTsiz 20, YTsiz 24, XTOsiz 28, YTOsiz 32, Csiz 36.
    let (x, y, xo, yo) = (u32_at(4), u32_at(8), u32_at(12), u32_at(16));
    let (xt, yt) = (u32_at(20), u32_at(24));
    let comps = siz
        .get(36..38)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let (w, h) = (x.saturating_sub(xo), y.saturating_sub(yo));
    if w != fmt.cols as u64 || h != fmt.rows as u64 || usize::from(comps) != fmt.samples {
        return Err(bad(format!(
            "codestream is {w}×{h}×{comps} but the tags say {}×{}×{}",
            fmt.cols, fmt.rows, fmt.samples
        )));
    }
    if xt == 0 || yt == 0 || x.div_ceil(xt).saturating_mul(y.div_ceil(yt)) > 65_536 {
        return Err(bad(format!("tile grid {xt}×{yt} is degenerate")));
    }
    Ok(())
}

fn decode(p: &Parsed, frame: u32) -> Result<Slice, ErrorKind> {
    let info = &p.info;
    let obj = &p.obj;
    let Some(pixel_elem) = obj.element_opt(tags::PIXEL_DATA).ok().flatten() else {
        let has = |t| obj.element_opt(t).ok().flatten().is_some();
        if has(tags::FLOAT_PIXEL_DATA) {
            return Err(ErrorKind::FloatPixelData("Float Pixel Data (7FE0,0008)"));
        }
        if has(tags::DOUBLE_FLOAT_PIXEL_DATA) {
            return Err(ErrorKind::FloatPixelData(
                "Double Float Pixel Data (7FE0,0009)",
            ));
        }
        return Err(ErrorKind::NoPixelData);
    };
    let ts =
        p.ts.as_ref()
            .map_err(|reason| ErrorKind::UnsupportedTransferSyntax {
                uid: info.transfer_syntax_uid.clone(),
                name: info.transfer_syntax.clone(),
                reason: reason.clone(),
            })?;
    let mut fmt = pixel_format(info)?;
    if frame >= info.frames {
        return Err(ErrorKind::FrameOutOfRange {
            frame,
            frames: info.frames,
        });
    }
    let frame_bytes = fmt
        .frame_bytes()
        .ok_or_else(|| ErrorKind::TooLarge("frame size overflows".into()))?;

    let grey = match (ts.codec, pixel_elem.value()) {
        (PixelCodec::Native, DicomValue::Primitive(v)) => {
            fmt.planar = ti::int(obj, tags::PLANAR_CONFIGURATION) == Some(1);
            let data = native_le_bytes(v, !ts.encoding.little_endian, fmt.bits_allocated)?;
            let frames = info.frames as usize;
            if fmt.bits_allocated == 1 {
                let bits = fmt.pixels().saturating_mul(frames);
                let expected = bits.div_ceil(8);
                if data.len() < expected {
                    return Err(ErrorKind::InconsistentLength {
                        expected: expected as u64,
                        found: data.len() as u64,
                    });
                }
                pixels::to_grey(&data, &fmt, fmt.pixels() * frame as usize)?
            } else {
                let expected = frame_bytes.saturating_mul(frames);
                if data.len() < expected {
                    return Err(ErrorKind::InconsistentLength {
                        expected: expected as u64,
                        found: data.len() as u64,
                    });
                }
                let start = frame_bytes * frame as usize;
                let slice = data.get(start..start + frame_bytes).unwrap_or_default();
                pixels::to_grey(slice, &fmt, 0)?
            }
        }
        (PixelCodec::Encapsulated, DicomValue::PixelSequence(seq)) => {
            if fmt.bits_allocated == 1 {
                return Err(ErrorKind::UnsupportedImage(
                    "1-bit encapsulated pixel data".into(),
                ));
            }
            if let Some(why) = &p.frame_split {
                return Err(ErrorKind::Decode(why.clone()));
            }
            // After `one_fragment_per_frame`, frame k is fragment k (or all fragments of a
            // single-frame object whose split failed to matter).
            let groups = frames::split(seq.fragments(), seq.offset_table(), info.frames)?;
            let range = groups
                .get(frame as usize)
                .cloned()
                .ok_or(ErrorKind::FrameOutOfRange {
                    frame,
                    frames: info.frames,
                })?;
            let parts = seq.fragments().get(range).unwrap_or_default();
            let stream: Cow<'_, [u8]> = match parts {
                [one] => Cow::Borrowed(one.as_slice()),
                many => Cow::Owned(many.concat()),
            };
            let sof = if [
                tsx::JPEG_BASELINE,
                tsx::JPEG_EXTENDED,
                tsx::JPEG_LOSSLESS,
                tsx::JPEG_LOSSLESS_SV1,
            ]
            .contains(&ts.uid.as_str())
            {
                Some(check_jpeg(&stream, &fmt, &ts.uid, &ts.name)?)
            } else {
                None
            };
            if ts.name.contains("JPEG 2000") {
                check_j2k(&stream, &fmt)?;
            }
            // Lossless streams libjpeg-turbo refuses still get the pure-Rust decoder below;
            // DCT of more than 8 bits has no other decoder, so its error stands.
            let turbo = match sof {
                Some(sof) if libjpeg::wants(sof.precision, sof.marker) => {
                    match libjpeg::decode(
                        &stream,
                        fmt.rows,
                        fmt.cols,
                        fmt.samples,
                        usize::from(fmt.bits_allocated / 8),
                    ) {
                        Ok(d) => Some(d),
                        Err(_) if sof.lossless() => None,
                        Err(e) => return Err(e),
                    }
                }
                _ => None,
            };
            let owned;
            let data: &[u8] = if ts.uid == tsx::RLE_LOSSLESS {
                owned = rle::decode_frame(
                    &stream,
                    fmt.pixels(),
                    fmt.samples,
                    usize::from(fmt.bits_allocated / 8),
                )?;
                &owned
            } else if let Some(d) = turbo {
                owned = d;
                &owned
            } else {
                // Codecs are third-party code fed with file bytes: contain any panic.
                let decoded = catch_unwind(AssertUnwindSafe(|| obj.decode_pixel_data_frame(frame)))
                    .map_err(|_| {
                        ErrorKind::Decode("the pixel data codec failed on this stream".into())
                    })?
                    .map_err(|e| ErrorKind::Decode(chain(&e)))?;
                owned = decoded.into_data();
                &owned
            };
            // Codec output is interleaved; YBR is converted by JPEG/J2K codecs but not by RLE.
            if fmt.samples == 3 {
                fmt.photometric = if ts.uid == tsx::RLE_LOSSLESS {
                    fmt.photometric.clone()
                } else {
                    Photometric::Rgb
                };
                if fmt.photometric == Photometric::YbrFull422 {
                    fmt.photometric = Photometric::YbrFull;
                }
            }
            let expected = fmt
                .frame_bytes()
                .ok_or_else(|| ErrorKind::TooLarge("frame size overflows".into()))?;
            if data.len() < expected {
                return Err(ErrorKind::InconsistentLength {
                    expected: expected as u64,
                    found: data.len() as u64,
                });
            }
            pixels::to_grey(data, &fmt, 0)?
        }
        (_, DicomValue::Sequence(_)) => {
            return Err(ErrorKind::Malformed(
                "pixel data is a sequence of items".into(),
            ));
        }
        (PixelCodec::Native, DicomValue::PixelSequence(_)) => {
            return Err(ErrorKind::Malformed(format!(
                "encapsulated pixel data in the native transfer syntax {}",
                ts.name
            )));
        }
        (PixelCodec::Encapsulated, DicomValue::Primitive(_)) => {
            return Err(ErrorKind::Malformed(format!(
                "native pixel data in the encapsulated transfer syntax {}",
                ts.name
            )));
        }
    };

    let padding = padding_mask(&grey, &fmt, obj);
    let (values, units) = modality(grey, &fmt, info, obj, frame);
    Ok(Slice {
        rows: fmt.rows,
        cols: fmt.cols,
        values,
        units,
        pixel_spacing_mm: info.pixel_spacing_mm,
        frame,
        info: Some(info.clone()),
        padding,
    })
}

/// Pixels whose stored value is padding (PS3.3 C.7.5.1.1.2): equal to Pixel Padding Value
/// (0028,0120), or between it and Pixel Padding Range Limit (0028,0121) inclusive. The tags
/// are US or SS like the pixels; a US-read value of signed data is reinterpreted as signed.
/// `None` when the object declares no padding or no pixel is padding (greyscale only).
fn padding_mask(stored: &[f32], fmt: &PixelFormat, obj: &InMemDicomObject) -> Option<Vec<bool>> {
    if fmt.samples != 1 || fmt.photometric == Photometric::Palette {
        return None;
    }
    let as_stored = |v: i64| -> i64 {
        if fmt.signed && (0x8000..=0xFFFF).contains(&v) {
            v - 0x1_0000
        } else {
            v
        }
    };
    let value = as_stored(ti::int(obj, tags::PIXEL_PADDING_VALUE)?);
    let limit = ti::int(obj, tags::PIXEL_PADDING_RANGE_LIMIT)
        .map(as_stored)
        .unwrap_or(value);
    let (lo, hi) = (value.min(limit) as f32, value.max(limit) as f32);
    let mask: Vec<bool> = stored.iter().map(|&v| v >= lo && v <= hi).collect();
    mask.contains(&true).then_some(mask)
}

/// Applies the modality LUT (rescale) and MONOCHROME1 inversion.
///
/// Only CT greyscale with a linear rescale is reported as HU; other data
/// keeps its modality units as `Raw`.
fn modality(
    mut v: Vec<f32>,
    fmt: &PixelFormat,
    info: &DicomInfo,
    obj: &InMemDicomObject,
    frame: u32,
) -> (Vec<f32>, Units) {
    let grey = fmt.samples == 1 && !matches!(fmt.photometric, Photometric::Palette);
    let (slope, intercept, rtype) = ti::rescale(obj, frame);
    let slope = slope.filter(|s| *s != 0.0).unwrap_or(1.0) as f32;
    let intercept = intercept.unwrap_or(0.0) as f32;
    if grey && (slope != 1.0 || intercept != 0.0) {
        for x in &mut v {
            *x = *x * slope + intercept;
        }
    }
    if fmt.photometric == Photometric::Monochrome1 {
        // Invert within the range the stored bits can represent, so that low
        // values display dark as for MONOCHROME2.
        let bits = i32::from(fmt.bits_stored.min(31));
        let (lo, hi) = if fmt.signed {
            (-(2f32.powi(bits - 1)), 2f32.powi(bits - 1) - 1.0)
        } else {
            (0.0, 2f32.powi(bits) - 1.0)
        };
        let (a, b) = (lo * slope + intercept, hi * slope + intercept);
        for x in &mut v {
            *x = a + b - *x;
        }
        return (v, Units::Raw);
    }
    let hu_type = rtype.as_deref().is_none_or(|t| t == "HU" || t == "US");
    let units = if grey && is_ct(info) && hu_type {
        Units::Hu
    } else {
        Units::Raw
    };
    (v, units)
}

/// CT Image, Enhanced CT Image and Legacy Converted Enhanced CT Image Storage (PS3.4 B.5).
const CT_SOP_CLASSES: [&str; 3] = [
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.5.1.4.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.2.2",
];

/// Whether the object holds CT numbers: modality CT (whatever the SOP class, e.g. a CT
/// stored as Secondary Capture), or no modality and a CT SOP class. Modality NM, PT, MR …
/// never does, even if a SOP class UID shares the CT prefix (NM is …1.1.20).
fn is_ct(info: &DicomInfo) -> bool {
    match info.modality.as_deref() {
        Some(m) => m == "CT",
        None => info
            .sop_class_uid
            .as_deref()
            .is_some_and(|u| CT_SOP_CLASSES.contains(&u)),
    }
}
