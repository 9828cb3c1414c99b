// swift-tools-version:6.0
// ablate — DenseNet-121 / SE-DenseNet ablations on the CPU.
//
// Module graph (each module → what it uses; one way only):
//   AblateCore      shared value types (run configuration with every setting declared once, model presets and
//                   names, canonical JSON, SHA-256, run status, epoch metrics, predictions); no dependencies
//   ExperimentFile  → AblateCore, Yams: the experiment-file language (YAML, validation, matrix); no engine
//   Engine          → CKernels, CDNNL (oneDNN), CBLAS (OpenBLAS): tensors, kernels, layers, optimisers, weights
//   Models          → AblateCore, Engine: the networks        Training → AblateCore, Engine, Models
//   Datasets        → AblateCore, TurboJPEG, libpng           Store    → AblateCore, GRDB
//   Report          → AblateCore, Cairo                       Runner   → all of the above (the glue)
//   ablate          → Runner and the modules whose values it prints, ArgumentParser
// Only the `ablate` executable talks to the terminal.
import PackageDescription

// Release builds of the numeric code keep Swift's bounds and overflow checks (-O, not -Ounchecked): an
// out-of-bounds write then stops with its location instead of corrupting the heap of an overnight run. The
// dynamic check of Swift's exclusive-access rule is off in release builds only (tests run debug builds with it).
// AVX2/FMA lets the compiler vectorise the plain loops 8 wide (Zen 3 / Haswell and later).
let hotSwift: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-Xcc", "-mavx2", "-Xcc", "-mfma"],
                 .when(configuration: .release)),
]

// OpenBLAS's OpenMP build (Debian `libopenblas-openmp-dev`) found first at run time, and libgomp for the engine's
// own kernels: GEMMs and element-wise kernels share one pool of threads. Without that package the loader falls
// back to the default OpenBLAS (pthreads), which is still correct, only slower.
let openMPBLAS: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "/usr/lib/x86_64-linux-gnu/openblas-openmp"]),
    .linkedLibrary("gomp"),
]

let package = Package(
    name: "ablate",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ablate", targets: ["ablate"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Datasets", targets: ["Datasets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        // oneDNN's convolutions and sgemm (Debian `libdnnl-dev`, OpenMP build: the same libgomp pool as above).
        .target(name: "CDNNL", cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("dnnl")]),
        .target(name: "CKernels",
                cSettings: [.unsafeFlags(["-O3", "-mavx2", "-mfma", "-ffp-contract=off"])]),

        // MARK: shared value types (no dependencies)
        .target(name: "AblateCore"),

        // MARK: engine and models
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels", "CDNNL"], swiftSettings: hotSwift, linkerSettings: openMPBLAS),
        .target(name: "Models", dependencies: ["AblateCore", "Engine"], swiftSettings: hotSwift),
        .target(name: "Training", dependencies: ["AblateCore", "Engine", "Models"], swiftSettings: hotSwift),

        // MARK: report (statistics, markdown tables, Cairo figures)
        .target(name: "Report", dependencies: ["AblateCore", "CCairo"]),

        // MARK: experiment files (the language: YAML, validation, matrix; no engine)
        .target(name: "ExperimentFile", dependencies: ["AblateCore", .product(name: "Yams", package: "Yams")]),

        // MARK: run store, and the runner that glues everything to training
        .target(name: "Store", dependencies: ["AblateCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Runner", dependencies: ["AblateCore", "ExperimentFile", "Store", "Datasets", "Engine", "Models",
                                               "Training", "Report"]),

        // MARK: data pipeline (stands beside the engine)
        .target(name: "Datasets", dependencies: ["AblateCore", "CTurboJPEG", "CPNG"], swiftSettings: hotSwift),

        // MARK: command line
        .executableTarget(name: "ablate", dependencies: [
            "AblateCore",
            "ExperimentFile",
            "Engine", "Models", "Training",
            "Report",
            "Store",
            "Runner",
            "Datasets",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: tests
        .testTarget(name: "AblateCoreTests", dependencies: ["AblateCore"]),
        .testTarget(name: "ExperimentFileTests", dependencies: ["AblateCore", "ExperimentFile"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        .testTarget(name: "ModelsTests", dependencies: ["AblateCore", "Models", "Engine", "Training"]),
        .testTarget(name: "ReportTests", dependencies: ["AblateCore", "Report", "CCairo"]),
        .testTarget(name: "StoreTests", dependencies: ["AblateCore", "Store", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "RunnerTests", dependencies: ["AblateCore", "ExperimentFile", "Runner", "Store", "Datasets",
                                                   "Training", "Models", "Engine",
                                                   .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "DatasetsTests", dependencies: ["AblateCore", "Datasets"]),
    ],
    // Swift 5 language mode: the engine passes raw C pointers between threads on purpose (each thread owns a
    // disjoint slice); Swift 6's Sendable checking would only add wrapper boilerplate to every kernel.
    swiftLanguageModes: [.v5]
)
