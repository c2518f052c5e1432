//! `--repair`: duplicated rows dropped and out-of-order rows moved, each change reported; other
//! defects are not excused.

use stratbox::data::{DefectKind, LoadOptions, RepairAction};

use super::{GOOD3, defects, load1, tmp, utc, write};

#[test]
fn repair_drops_duplicates_sorts_and_reports() {
    let d = tmp();
    let lines: Vec<&str> = GOOD3.lines().collect();
    let later = "20180101 170300;1.200300;1.200500;1.200200;1.200400;0";
    let changed_dup = "20180101 170100;1.200300;1.200500;1.200200;1.200400;0";
    // lines: 1 t0, 2 t3, 3 t1, 4 t1 (identical dup), 5 t2, 6 t1 (different dup)
    let text = [lines[0], later, lines[1], lines[1], lines[2], changed_dup].join("\n");
    let path = write(d.path(), "r.csv", &text);
    let (count, list, _) = defects(load1(&path, &LoadOptions::default()));
    assert_eq!(count, 3, "{list:#?}");
    assert_eq!(list.iter().map(|d| d.line).collect::<Vec<_>>(), vec![3, 4, 6]);

    let opts = LoadOptions {
        repair: true,
        ..Default::default()
    };
    let (bars, rep) = load1(&path, &opts).unwrap();
    let t0 = utc(2018, 1, 1, 22, 0);
    assert_eq!(bars.time, vec![t0, t0 + 60, t0 + 120, t0 + 180]);
    assert_eq!(bars.close, vec![120_100, 120_030, 120_040, 120_040]);
    assert_eq!((rep.repairs.dropped, rep.repairs.moved), (2, 1));
    let changes: Vec<(usize, RepairAction)> = rep
        .repairs
        .changes
        .iter()
        .map(|r| (r.line, r.action.clone()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (2, RepairAction::Moved),
            (
                4,
                RepairAction::DroppedDuplicate {
                    kept_line: 3,
                    identical: true
                }
            ),
            (
                6,
                RepairAction::DroppedDuplicate {
                    kept_line: 3,
                    identical: false
                }
            ),
        ]
    );
    assert_eq!(rep.files[0].rows, 4);
    assert!(
        rep.repairs
            .to_string()
            .contains("dropped 2 duplicated rows, moved 1 row")
    );
    // Repair does not excuse other defects.
    let bad = text.replace("1.201000;1.200370", "1.201000;1.209990");
    let (count, list, _) = defects(load1(write(d.path(), "r2.csv", &bad), &opts));
    assert_eq!(count, 1);
    assert!(matches!(list[0].kind, DefectKind::LowAboveMin { .. }));
}
