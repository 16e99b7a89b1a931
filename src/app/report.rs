//! The teaching report: one self-contained HTML file (no external resources) with the image on
//! screen as an embedded PNG, the result, the step ledger, the CKKS parameters, the key
//! inventory and sizes, and the ROI measurements. No patient identifiers are written.

use super::PrivactApp;
use super::job;
use super::state::{StepStatus, Task};
use super::view::{self, fmt_bytes, fmt_seconds, group_thousands};
use super::weights::CLASS_NAMES;
use crate::protocol::Side;

/// Standard base64 (RFC 4648 §4, with `=` padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in head {
        s += &format!("<th>{}</th>", escape(h));
    }
    s += "</tr>";
    for r in rows {
        s += "<tr>";
        for c in r {
            s += &format!("<td>{}</td>", escape(c));
        }
        s += "</tr>";
    }
    s + "</table>\n"
}

/// The report of what the app shows now, as one HTML document.
pub fn build(app: &PrivactApp) -> String {
    let st = &app.state;
    let mut body = String::new();
    let label = st.image.as_ref().map_or("no image", |i| i.label.as_str());
    body += &format!(
        "<h1>PrivaCT teaching report</h1><p class=note>Research and teaching software. Not for \
         clinical use. Image: {} · slice {} of {} · view: {} · window {}. Patient identifiers \
         are not included.</p>\n",
        escape(label),
        st.index + 1,
        st.image.as_ref().map_or(0, |i| i.slices.len()),
        st.display.label(),
        view::window_label(st.window),
    );

    // The image as on screen (current view and window), embedded.
    body += "<h2>Image</h2>\n";
    match (st.slice(), st.displayed_values()) {
        (Some(s), Some(v)) => {
            match crate::imaging::raster::png_bytes(s.rows, s.cols, &st.window.apply_all(v)) {
                Ok(png) => {
                    body += &format!(
                        "<img alt=\"{} view, {}×{} pixels\" src=\"data:image/png;base64,{}\">\n",
                        escape(st.display.label()),
                        s.cols,
                        s.rows,
                        base64(&png)
                    )
                }
                Err(e) => body += &format!("<p>The image could not be encoded: {e}</p>\n"),
            }
        }
        _ => body += "<p>No image loaded.</p>\n",
    }

    // ROI measurements on every view.
    if let (Some(shape), Some(s)) = (&st.roi, st.slice()) {
        body += "<h2>ROI measurement</h2>\n";
        body += &format!(
            "<p>{} (image pixel coordinates; a pixel counts when its centre is inside).</p>\n",
            escape(&format!("{shape:?}"))
        );
        let rows: Vec<Vec<String>> = st
            .roi_stats()
            .into_iter()
            .map(|(d, r)| {
                let (area, unit) = crate::imaging::roi::area(r.count, s.pixel_spacing_mm);
                vec![
                    d.short().into(),
                    format!("{:.1} ± {:.1}", r.mean, r.sd),
                    format!("{:.0} / {:.0}", r.min, r.max),
                    r.count.to_string(),
                    format!("{area:.1} {unit}"),
                    view::units_name(st.units_for(d)).into(),
                ]
            })
            .collect();
        body += &table(
            &["View", "Mean ± SD", "Min / max", "Pixels", "Area", "Units"],
            &rows,
        );
    }

    // The result of the task on show.
    body += "<h2>Result</h2>\n";
    match st.task {
        Task::Classify => match st.classify_outcome() {
            Some((o, warning)) => {
                let plain = o.reference_logits.map(|l| job::probabilities(&l));
                let rows: Vec<Vec<String>> = CLASS_NAMES
                    .iter()
                    .enumerate()
                    .map(|(k, name)| {
                        vec![
                            (*name).into(),
                            format!("{:.1} %", o.probabilities[k] * 100.0),
                            plain.map_or("–".into(), |p| format!("{:.1} %", p[k] * 100.0)),
                        ]
                    })
                    .collect();
                body += &table(
                    &["Class", "HE-CNN (decrypted)", "Plaintext, same circuit"],
                    &rows,
                );
                if let Some(e) = o.max_error() {
                    body += &format!("<p>Encrypted vs plaintext: max |Δ logit| = {e:.2e}.</p>\n");
                }
                if let Some(w) = warning {
                    body += &format!("<p>Input check: {} (no class is named).</p>\n", escape(w));
                }
            }
            None => body += "<p>No encrypted classification of this slice yet.</p>\n",
        },
        Task::Denoise => match st.denoise_outcome() {
            Some(o) => {
                body += &format!(
                    "<p>{} model on ciphertexts; max |encrypted − plaintext model| = {:.1e}.</p>\n",
                    escape(o.kind.name()),
                    o.max_abs_diff
                );
                if let Some(q) = &o.quality {
                    body += &format!(
                        "<p>PSNR {:.2} → {:.2} dB, SSIM {:.3} → {:.3} against the clean \
                         reconstruction.</p>\n",
                        q.psnr_in, q.psnr_out, q.ssim_in, q.ssim_out
                    );
                }
            }
            None => body += "<p>No encrypted denoising of this slice yet.</p>\n",
        },
    }
    if let Some(m) = &app.compare_metrics {
        let rows: Vec<Vec<String>> = m
            .rows
            .iter()
            .map(|(d, p, s)| vec![d.short().into(), format!("{p:.2} dB"), format!("{s:.4}")])
            .collect();
        body += &format!(
            "<h3>Against the loaded reference ({})</h3>\n",
            escape(m.normalisation)
        );
        body += &table(&["View", "PSNR", "SSIM"], &rows);
    }

    // The step ledger.
    body += "<h2>Step ledger</h2>\n";
    let p = st.shown_pipeline();
    let rows: Vec<Vec<String>> = p
        .steps
        .iter()
        .map(|s| {
            vec![
                s.id.name(),
                match s.id.side() {
                    Side::Client => "client".into(),
                    Side::Server => "server".into(),
                    Side::Wire => "wire".into(),
                },
                s.status.label().into(),
                s.seconds.map_or("–".into(), fmt_seconds),
                match s.bytes {
                    Some(b) if b > 0 => format!("{} ({} bytes)", fmt_bytes(b), group_thousands(b)),
                    _ => "–".into(),
                },
            ]
        })
        .collect();
    body += &table(&["Step", "Side", "Status", "Time", "Bytes"], &rows);
    if p.steps.iter().all(|s| s.status == StepStatus::Waiting) {
        body += "<p>Nothing has run yet.</p>\n";
    }

    // Parameters and keys of the classification protocol (or the denoiser's).
    body += "<h2>CKKS parameters</h2>\n";
    let params = match st.task {
        Task::Classify => app.params.as_ref().ok().map(|i| &i.params),
        Task::Denoise => app
            .denoise_info
            .as_ref()
            .ok()
            .map(|i| i.params(st.denoise.model)),
    };
    match params {
        Some(p) => {
            body += &table(
                &["Parameter", "Value"],
                &[
                    vec![
                        "Ring degree N".into(),
                        format!("{} (2^{})", group_thousands(p.n() as u64), p.log_n()),
                    ],
                    vec!["Slots".into(), group_thousands(p.slots() as u64)],
                    vec!["Levels".into(), p.max_level().to_string()],
                    vec!["Scale".into(), format!("2^{:.0}", p.default_scale().log2())],
                    vec![
                        "Modulus".into(),
                        format!(
                            "log Q = {:.0} bits, log QP = {:.0} bits",
                            p.log_q(),
                            p.log_qp()
                        ),
                    ],
                    vec![
                        "Security".into(),
                        format!("{}-bit (HomomorphicEncryption.org)", p.security_bits()),
                    ],
                ],
            )
        }
        None => body += "<p>Parameters unavailable.</p>\n",
    }
    body += "<h2>Key inventory and sizes</h2>\n";
    let keys = match st.task {
        Task::Classify => app.params.as_ref().ok().map(|i| {
            let plan = &i.plan;
            (
                Some(plan.relin_key_bytes),
                plan.galois_keys,
                plan.galois_key_bytes,
                plan.request_bytes,
            )
        }),
        Task::Denoise => app.denoise_plan().and_then(|p| p.ok()).map(|plan| {
            (
                None,
                plan.galois_keys,
                plan.galois_key_bytes,
                plan.request_bytes,
            )
        }),
    };
    match keys {
        Some((relin, galois, each, request)) => {
            body += &table(
                &["Key or message", "Where", "Size"],
                &[
                    vec![
                        "Secret key".into(),
                        "never leaves this machine".into(),
                        "–".into(),
                    ],
                    vec![
                        "Relinearisation key".into(),
                        "server".into(),
                        relin.map_or("none".into(), fmt_bytes),
                    ],
                    vec![
                        "Galois (rotation) keys".into(),
                        "server".into(),
                        format!(
                            "{galois} × {} = {}",
                            fmt_bytes(each),
                            fmt_bytes(galois as u64 * each)
                        ),
                    ],
                    vec![
                        "Encrypted request".into(),
                        "client → server".into(),
                        format!(
                            "{} ({} bytes)",
                            fmt_bytes(request),
                            group_thousands(request)
                        ),
                    ],
                ],
            );
        }
        None => body += "<p>Key sizes unavailable.</p>\n",
    }
    format!(
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>PrivaCT teaching \
         report</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;\
         color:#111;background:#fff}}table{{border-collapse:collapse;margin:.5em 0}}td,th{{\
         border:1px solid #999;padding:.25em .6em;text-align:left}}img{{max-width:100%;\
         image-rendering:pixelated}}.note{{color:#444}}</style></head><body>\n{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
