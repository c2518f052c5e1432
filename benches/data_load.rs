//! Load time of the bundled HistData year (20 MB CSV in a 3.4 MB zip, 372,607 M1 bars): unzip,
//! SHA-256, parse, validate. The contract is "well under 0.5 s" in a release build. Next to it, the
//! same load from the parsed-data cache.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use stratbox::data::{Input, LoadOptions, load};

fn histdata_year(c: &mut Criterion) {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/histdata/HISTDATA_COM_ASCII_EURUSD_M12018.zip"
    ));
    let paths = [Input::from(path)];
    let opts = LoadOptions::default();
    let mut g = c.benchmark_group("data_load");
    g.sample_size(20);
    g.bench_function("histdata_zip_year", |b| {
        b.iter(|| {
            let (bars, _) = load(black_box(&paths), &opts).unwrap();
            assert_eq!(bars.len(), 372_607);
            bars
        })
    });
    // The same load answered by the parsed-data cache (the file is still read and hashed).
    let cache = tempfile::tempdir().unwrap();
    let cached = LoadOptions {
        cache_dir: Some(cache.path().to_owned()),
        ..LoadOptions::default()
    };
    load(&paths, &cached).unwrap();
    g.bench_function("histdata_zip_year_cached", |b| {
        b.iter(|| {
            let (bars, _) = load(black_box(&paths), &cached).unwrap();
            assert_eq!(bars.len(), 372_607);
            bars
        })
    });
    g.finish();
}

criterion_group!(benches, histdata_year);
criterion_main!(benches);
