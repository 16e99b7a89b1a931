//! LDCT simulation of a 512×512 slice (target ≤ 2 s on the 2-core machine).
//! `cargo bench --bench imaging`

use criterion::{Criterion, criterion_group, criterion_main};
use privact::imaging::ldct::simulate;
use privact::imaging::phantom::Phantom;

fn ldct_512(c: &mut Criterion) {
    let p = Phantom::default();
    let s = p.hu();
    let mut g = c.benchmark_group("ldct");
    g.sample_size(10);
    g.bench_function("simulate_512_quarter_dose", |b| {
        b.iter(|| simulate(&s.values, s.rows, s.cols, p.spacing_mm(), 0.25, 1))
    });
    g.finish();
}

fn load_phantom(c: &mut Criterion) {
    let bytes = Phantom::default().dicom_bytes().expect("phantom");
    c.bench_function("load_phantom_dicom_512", |b| {
        b.iter(|| {
            privact::imaging::load_bytes(&bytes, std::path::Path::new("p.dcm"), &Default::default())
        })
    });
}

criterion_group!(benches, ldct_512, load_phantom);
criterion_main!(benches);
