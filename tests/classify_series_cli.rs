//! `privact classify-series` as a user runs it (issue 19): one encrypted key set for a whole
//! series, one row per slice, totals, an atomic CSV, `--range`, and multi-frame files.

mod common;

use common::{privact, shared_data, temp_dir};
use serde_json::Value;

/// A folder of `n` copies of the phantom slice (one series).
fn phantom_series(name: &str, n: usize) -> std::path::PathBuf {
    let dir = temp_dir(name);
    let series = dir.join("series");
    std::fs::create_dir_all(&series).unwrap();
    let one = dir.join("one.dcm");
    let (code, _, err) = privact(&["phantom", "--out", one.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for k in 0..n {
        std::fs::copy(&one, series.join(format!("slice{k:02}.dcm"))).unwrap();
    }
    series
}

#[test]
fn a_series_is_classified_with_one_key_set_and_written_atomically() {
    let series = phantom_series("series-cli", 3);
    let csv_path = series.parent().unwrap().join("rows.csv");
    let (code, out, err) = privact(&[
        "classify-series",
        series.to_str().unwrap(),
        "--json",
        "--csv",
        csv_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["mode"], "encrypted");
    assert_eq!(v["evaluated_by"], "the built-in server in this process");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let totals = &v["totals"];
    assert_eq!(totals["slices"], 3);
    // The keys travel once for the series; every slice uploads only its own request.
    let keys = totals["setup"]["eval_key_bytes"].as_u64().unwrap();
    assert!(keys > 1_000_000, "evaluation keys reported: {keys}");
    let per_slice: Vec<u64> = rows
        .iter()
        .map(|r| r["upload_bytes"].as_u64().unwrap())
        .collect();
    assert!(per_slice.iter().all(|&b| b == per_slice[0] && b > 0));
    assert!(per_slice[0] < keys, "a slice uploads less than the keys");
    assert_eq!(
        totals["upload_bytes"].as_u64().unwrap(),
        per_slice.iter().sum::<u64>()
    );

    // Same answers as the plaintext Approx-CNN (the network the server evaluates).
    let (code, out, err) = privact(&[
        "classify-series",
        series.to_str().unwrap(),
        "--mode",
        "approx",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let approx: Value = serde_json::from_str(&out).unwrap();
    for (e, a) in rows.iter().zip(approx["rows"].as_array().unwrap()) {
        for c in ["normal", "cyst", "tumor"] {
            let (pe, pa) = (
                e["probabilities"][c].as_f64().unwrap(),
                a["probabilities"][c].as_f64().unwrap(),
            );
            assert!((pe - pa).abs() < 1e-3, "{c}: encrypted {pe}, approx {pa}");
        }
        assert_eq!(e["predicted"], a["predicted"]);
    }
    // The table ends with the totals a reader needs: the most suspicious slices and where it ran.
    let (code, out, err) = privact(&[
        "classify-series",
        series.to_str().unwrap(),
        "--mode",
        "approx",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("most suspicious (tumour): slice "), "{out}");
    assert!(
        out.contains("evaluated by plaintext in this process"),
        "{out}"
    );

    // The CSV: a header and one row per slice, readable by a CSV parser.
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "index");
    assert_eq!(&header[6], "p_tumor");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    assert_eq!(&records[2][0], "2");

    // --range picks slices; a bad range is refused and leaves the earlier CSV untouched.
    let (code, out, err) = privact(&[
        "classify-series",
        series.to_str().unwrap(),
        "--mode",
        "approx",
        "--range",
        "1:3",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let idx: Vec<u64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, [1, 2]);
    let before = std::fs::read(&csv_path).unwrap();
    let (code, _, err) = privact(&[
        "classify-series",
        series.to_str().unwrap(),
        "--range",
        "2:9",
        "--csv",
        csv_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--range 2:9"), "{err}");
    assert_eq!(std::fs::read(&csv_path).unwrap(), before);
    let _ = std::fs::remove_dir_all(series.parent().unwrap());
}

#[test]
fn every_frame_of_a_multi_frame_file_is_a_slice() {
    let Some(data) = shared_data() else { return };
    let file = data.join("dicom-extra/ct_2frames_fragmented_no_bot_jpeg_lossless57.dcm");
    if !file.exists() {
        eprintln!("skipped: {} is absent", file.display());
        return;
    }
    let (code, out, err) = privact(&[
        "classify-series",
        file.to_str().unwrap(),
        "--mode",
        "approx",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "both frames");
    assert!(rows[1]["file"].as_str().unwrap().ends_with("#1"));
    // A row either names a class or carries the input check's warning, never both.
    for r in rows {
        assert!(r["predicted"].is_null() != r["warning"].is_null(), "{r}");
    }
}
