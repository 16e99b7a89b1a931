//! Which transfer syntaxes this build decodes, and why the others are refused.
//!
//! The decision is made here, once, so `inspect`, the loader and the docs agree.
//! Codecs (PS3.5 §8.2, Annex A.4): RLE (our `rle`), JPEG baseline/extended 8-bit and lossless
//! (jpeg-decoder), JPEG extended 12-bit (libjpeg-turbo, `jpeg12`), JPEG-LS (CharLS) and
//! JPEG 2000 (OpenJPEG), the last three through `dicom-pixeldata` or their C libraries.

use dicom_encoding::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::scan::Encoding;

pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
pub const DEFLATED_EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1.99";
pub const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";
pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
pub const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";
pub const JPEG_LOSSLESS: &str = "1.2.840.10008.1.2.4.57";
pub const JPEG_LOSSLESS_SV1: &str = "1.2.840.10008.1.2.4.70";
pub const JPEG_LS_LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
pub const JPEG_LS_NEAR_LOSSLESS: &str = "1.2.840.10008.1.2.4.81";
pub const JPEG_2000_LOSSLESS: &str = "1.2.840.10008.1.2.4.90";
pub const JPEG_2000: &str = "1.2.840.10008.1.2.4.91";

/// How the pixel data of a transfer syntax is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelCodec {
    /// Uncompressed samples (including deflated and big endian data sets).
    Native,
    /// Compressed fragments decoded by `dicom-pixeldata`.
    Encapsulated,
}

/// A transfer syntax this build can read.
#[derive(Debug, Clone)]
pub struct Supported {
    pub uid: String,
    pub name: String,
    pub encoding: Encoding,
    pub deflated: bool,
    pub codec: PixelCodec,
}

/// Human name of a transfer syntax UID (the UID itself when unknown).
pub fn name_of(uid: &str) -> String {
    TransferSyntaxRegistry
        .get(uid)
        .map(|ts| ts.name().to_string())
        .unwrap_or_else(|| "unknown transfer syntax".to_string())
}

/// Decides whether pixel data in `uid` can be decoded; `Err` carries the reason.
pub fn classify(uid: &str) -> Result<Supported, String> {
    let name = name_of(uid);
    let native = |encoding, deflated| {
        Ok(Supported {
            uid: uid.to_string(),
            name: name.clone(),
            encoding,
            deflated,
            codec: PixelCodec::Native,
        })
    };
    match uid {
        IMPLICIT_VR_LE => return native(Encoding::IMPLICIT_LE, false),
        EXPLICIT_VR_LE => return native(Encoding::EXPLICIT_LE, false),
        EXPLICIT_VR_BE => return native(Encoding::EXPLICIT_BE, false),
        DEFLATED_EXPLICIT_VR_LE => return native(Encoding::EXPLICIT_LE, true),
        _ => {}
    }
    let Some(ts) = TransferSyntaxRegistry.get(uid) else {
        return Err("not a transfer syntax known to this build".to_string());
    };
    if ts.is_unsupported_pixel_encapsulation() || !ts.can_decode_all() {
        let reason = if name.contains("MPEG") || name.contains("HEVC") {
            "video streams are not CT slices"
        } else {
            "no decoder for it in this build"
        };
        return Err(reason.to_string());
    }
    let big_endian = ts.endianness() == dicom_encoding::Endianness::Big;
    Ok(Supported {
        uid: uid.to_string(),
        name,
        // Every encapsulated syntax is explicit VR; only a retired private
        // native syntax could be big endian here.
        encoding: if big_endian {
            Encoding::EXPLICIT_BE
        } else {
            Encoding::EXPLICIT_LE
        },
        deflated: false,
        codec: if ts.is_codec_free() {
            PixelCodec::Native
        } else {
            PixelCodec::Encapsulated
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_syntaxes_are_classified() {
        assert_eq!(
            classify(IMPLICIT_VR_LE).map(|s| s.codec),
            Ok(PixelCodec::Native)
        );
        assert_eq!(
            classify(RLE_LOSSLESS).map(|s| s.codec),
            Ok(PixelCodec::Encapsulated)
        );
        assert_eq!(
            classify(JPEG_2000).map(|s| s.codec),
            Ok(PixelCodec::Encapsulated)
        );
        // JPEG-LS (CharLS) and JPEG Extended (12-bit through libjpeg-turbo) decode.
        for uid in [JPEG_LS_LOSSLESS, JPEG_LS_NEAR_LOSSLESS, JPEG_EXTENDED] {
            assert_eq!(classify(uid).map(|s| s.codec), Ok(PixelCodec::Encapsulated));
        }
        assert!(classify("1.2.3.4").is_err());
        assert!(name_of(JPEG_BASELINE).contains("JPEG"));
    }
}
