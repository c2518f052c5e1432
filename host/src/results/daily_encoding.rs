//! How a daily file's row groups are encoded: each column with the Parquet encoding that suits
//! what it holds, chosen once here, instead of polars' choice per column and row group.
//!
//! Why: polars' writer first estimates every column's cardinality (a HyperLogLog over all its
//! values) and then tries a dictionary for each, which for the daily file was half of its
//! encoding time (~15 ms a 262,144-entry group), and the encoding ran beside the batches, on
//! the cores they need. The columns' shapes are known: `strategy_id` and `day` ascend in runs
//! (delta encoding stores them in a few bits an entry) and `n_trades` is a small count (delta
//! too). `lots` and `pnl_usd` stay plain values, as polars wrote them (its writer never
//! dictionary-encodes floats), and zstd takes out their repeats: `lots` is constant within a
//! strategy, `pnl_usd` repeats the amounts of fixed-pip exits. Every column is required (no
//! nulls, so no definition levels). Any Parquet reader reads the file; the SPEC's schema,
//! order and metadata are unchanged, though readers now see the columns as not nullable.

use std::fs::File;

use polars::prelude::PolarsError;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, ArrowSchemaRef, Field};
use polars_arrow::record_batch::RecordBatchT;
use polars_parquet::write::{
    CompressionOptions, Encoding, FileWriter, KeyValue, ParquetType, StatisticsOptions, Version,
    WriteOptions, row_group_iter, schema_to_metadata_key, to_parquet_schema,
};

use super::daily::DailyColumns;
use super::row_groups::Groups;

/// The encoding of each column, in the file's column order.
const ENCODINGS: [Encoding; 5] = [
    Encoding::DeltaBinaryPacked, // strategy_id
    Encoding::Plain,             // lots
    Encoding::DeltaBinaryPacked, // day
    Encoding::Plain,             // pnl_usd
    Encoding::DeltaBinaryPacked, // n_trades
];

/// A daily file being written a row group at a time.
pub(crate) struct DailyEncoder {
    writer: FileWriter<File>,
    schema: ArrowSchemaRef,
    fields: Vec<ParquetType>,
    options: WriteOptions,
    metadata: Vec<KeyValue>,
}

impl DailyEncoder {
    /// Starts the file in `file`, whose footer will carry `metadata` (and the Arrow schema, as
    /// polars writes it).
    pub(crate) fn new(file: File, metadata: Vec<(String, String)>) -> Result<DailyEncoder, PolarsError> {
        let field = |name: &str, dtype| Field::new(name.into(), dtype, false);
        let schema: ArrowSchema = [
            field("strategy_id", ArrowDataType::UInt32),
            field("lots", ArrowDataType::Float64),
            field("day", ArrowDataType::Date32),
            field("pnl_usd", ArrowDataType::Float64),
            field("n_trades", ArrowDataType::UInt32),
        ]
        .into_iter()
        .map(|f| (f.name.clone(), f))
        .collect();
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            compression: CompressionOptions::Zstd(None),
            version: Version::V1,
            data_page_size: None,
        };
        let fields = to_parquet_schema(&schema)?.fields().to_vec();
        let mut kv = vec![schema_to_metadata_key(&schema)];
        kv.extend(metadata.into_iter().map(|(key, value)| KeyValue {
            key,
            value: Some(value),
        }));
        Ok(DailyEncoder {
            writer: FileWriter::try_new(file, schema.clone(), options)?,
            schema: schema.into(),
            fields,
            options,
            metadata: kv,
        })
    }
}

impl Groups for DailyEncoder {
    type Group = DailyColumns;

    fn write(&mut self, c: DailyColumns) -> Result<(), String> {
        let n = c.len();
        let arrays: Vec<Box<dyn Array>> = vec![
            PrimitiveArray::from_vec(c.strategy_id).boxed(),
            PrimitiveArray::from_vec(c.lots).boxed(),
            PrimitiveArray::from_vec(c.day).to(ArrowDataType::Date32).boxed(),
            PrimitiveArray::from_vec(c.pnl_usd).boxed(),
            PrimitiveArray::from_vec(c.n_trades).boxed(),
        ];
        let batch = RecordBatchT::try_new(n, self.schema.clone(), arrays).map_err(|e| e.to_string())?;
        let group = row_group_iter(
            batch,
            ENCODINGS.map(|e| vec![e]).to_vec().into(),
            self.fields.clone(),
            self.options,
        );
        self.writer.write(n as u64, group).map_err(|e| e.to_string())
    }

    fn finish(mut self) -> Result<(), String> {
        self.writer
            .end(Some(std::mem::take(&mut self.metadata)))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    /// Every value comes back as written, the extremes of each column's type included (the
    /// delta encodings' edge cases: a drop from `u32::MAX` to 0, negative days), through
    /// polars' reader; the footer carries the metadata and the columns are not nullable.
    #[test]
    fn the_extremes_of_every_column_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        let c = DailyColumns {
            strategy_id: vec![0, u32::MAX, 0, 7, 7],
            lots: vec![0.01, 1e300, -0.0, f64::MIN_POSITIVE / 4.0, 0.1],
            day: vec![i32::MIN, i32::MAX, -1, 0, 17_532],
            pnl_usd: vec![-1e-310, f64::MAX, f64::MIN, -0.0, 3.29],
            n_trades: vec![u32::MAX, 0, 1, u32::MAX, 2],
        };
        let mut e = DailyEncoder::new(File::create(&path).unwrap(), vec![("k".into(), "v".into())]).unwrap();
        e.write(c.clone()).unwrap();
        e.write(DailyColumns {
            strategy_id: vec![1],
            lots: vec![2.0],
            day: vec![3],
            pnl_usd: vec![4.0],
            n_trades: vec![5],
        })
        .unwrap();
        e.finish().unwrap();
        let mut reader = ParquetReader::new(File::open(&path).unwrap());
        let kv = reader
            .get_metadata()
            .unwrap()
            .key_value_metadata()
            .clone()
            .unwrap();
        assert!(kv.iter().any(|k| k.key == "k" && k.value.as_deref() == Some("v")));
        let df = reader.finish().unwrap();
        assert_eq!(df.height(), 6);
        let u32s = |name: &str| -> Vec<u32> {
            df.column(name)
                .unwrap()
                .u32()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        let f64s = |name: &str| -> Vec<u64> {
            df.column(name)
                .unwrap()
                .f64()
                .unwrap()
                .into_no_null_iter()
                .map(f64::to_bits)
                .collect()
        };
        let bits =
            |v: &[f64], last: f64| -> Vec<u64> { v.iter().chain([&last]).map(|x| x.to_bits()).collect() };
        assert_eq!(u32s("strategy_id"), [&c.strategy_id[..], &[1]].concat());
        assert_eq!(f64s("lots"), bits(&c.lots, 2.0));
        let day = df.column("day").unwrap();
        assert_eq!(day.dtype(), &DataType::Date);
        let day: Vec<i32> = day
            .cast(&DataType::Int32)
            .unwrap()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(day, [&c.day[..], &[3]].concat());
        assert_eq!(f64s("pnl_usd"), bits(&c.pnl_usd, 4.0));
        assert_eq!(u32s("n_trades"), [&c.n_trades[..], &[5]].concat());
    }
}
