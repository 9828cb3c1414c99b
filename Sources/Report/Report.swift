// Module `Report`: turns finished (and unfinished) ablation runs into a folder a person can read.
//
//   ReportInput (plain structs, filled by the caller from the run store)
//     → Statistics / StudentT / McNemar / ClassificationMetrics   (numbers, each checked against scipy in tests)
//     → ReportTables (GitHub markdown) and Figures (PNG via Cairo) and CSV
//     → renderReport(_:outDir:generatedAt:) writes README.md, training_curves.png, final_accuracy.png, epochs.csv
//
// Rules kept throughout: only `finished` runs are averaged or tested, the others are listed by name; bad input
// throws a ReportError that says what is wrong; the same input gives the same bytes (except "Generated at").
