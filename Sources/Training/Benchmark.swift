// `ablate bench`: time training or evaluation steps on random input, like the PyTorch benchmark script
// (`../shared/peers/torch_densenet_se.py`: 2 warm-up steps, then the median of the measured steps, SGD momentum 0.9).
import AblateCore
import Engine
import Foundation
import Models

public struct BenchmarkOptions: Sendable {
    public var model: String, size: Int, batch: Int, steps: Int, warmup: Int, train: Bool, threads: Int, seed: UInt64
    public var profile = false
    /// State_dict prefixes frozen for the measured steps (`training.freeze`).
    public var freeze: [String] = []
    public init(model: String, size: Int, batch: Int, steps: Int, warmup: Int = 2, train: Bool, threads: Int, seed: UInt64 = 0) {
        self.model = model; self.size = size; self.batch = batch; self.steps = steps; self.warmup = warmup
        self.train = train; self.threads = threads; self.seed = seed
    }
}

public struct BenchmarkResult: Codable, Sendable {
    public let model: String, mode: String, size: Int, batch: Int, steps: Int, threads: Int
    /// `openblas`, `onednn` or `onednn+winograd` (see `Backend`).
    public let backend: String
    /// The oneDNN library the `onednn` backend loaded (`Libraries.oneDNN`), nil on `openblas`.
    public var oneDNNVersion: String?
    /// `gflops` counts 2 × the direct algorithm's multiply-adds (× 3 in training) per second, whatever the
    /// convolution algorithm: with Winograd it is an effective rate and can exceed the machine's GEMM peak. With
    /// `freeze` it still counts × 3 (the backward work the frozen layers skip is not taken off): compare seconds.
    public let imagesPerSecond: Double, secondsPerStep: Double, gflops: Double
    public let peakRSSBytes: Int
    public let stepSeconds: [Double]
    public let multiplyAddsPerImage: Int
    public let activationBytes: Int
    /// Seconds per measured step by op type and phase (with `profile`).
    public var profile: [ProfileRow]?
    /// The frozen state_dict prefixes (nil: nothing frozen).
    public var freeze: [String]?

    enum CodingKeys: String, CodingKey {
        case model, mode, size, batch, steps, threads, backend, oneDNNVersion = "onednn_version"
        case imagesPerSecond = "images_per_second", secondsPerStep = "seconds_per_step", gflops
        case peakRSSBytes = "peak_rss_bytes", stepSeconds = "step_seconds", multiplyAddsPerImage = "multiply_adds_per_image"
        case activationBytes = "activation_bytes", profile, freeze
    }
}

public enum Benchmark {
    public static func run(_ o: BenchmarkOptions) throws -> BenchmarkResult {
        Threads.set(o.threads)
        let net = try ModelSpec.named(o.model).build(seed: o.seed)
        try net.freeze(o.freeze)
        let macs = try net.summary(inputSize: o.size).multiplyAdds
        var rng = SeededGenerator(seed: o.seed &+ 1)
        let input = Tensor([o.batch, o.size, o.size, 3])
        for i in 0..<input.count { input[i] = Float(rng.normal()) }
        let labels = (0..<o.batch).map { _ in Int32(rng.next() % UInt64(net.classes)) }
        let optimizer = Optimizer(.sgd(lr: 0.01, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false), store: net.store)
        var times: [Double] = []
        Profiler.shared.enabled = false
        for i in 0..<(o.warmup + o.steps) {
            if i == o.warmup && o.profile { Profiler.shared.reset(); Profiler.shared.enabled = true }
            let t0 = DispatchTime.now().uptimeNanoseconds
            if o.train {
                _ = try TrainStep.run(net, optimizer, input: input, labels: labels, lr: 0.01)
            } else {
                _ = try net.forward(input, training: false)
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if i >= o.warmup { times.append(dt) }
        }
        Profiler.shared.enabled = false
        let profile = o.profile ? Profiler.shared.rows.map {
            ProfileRow(op: $0.op, phase: $0.phase, secondsPerStep: $0.seconds / Double(o.steps), callsPerStep: $0.calls / o.steps)
        } : nil
        let median = Self.median(times)
        let ips = Double(o.batch) / median
        let flopsPerImage = Double(2 * macs) * (o.train ? 3 : 1)
        return BenchmarkResult(model: net.displayName, mode: o.train ? "train" : "eval", size: o.size, batch: o.batch,
                               steps: o.steps, threads: o.threads, backend: Backend.description,
                               oneDNNVersion: Backend.current == .onednn ? Libraries.oneDNN : nil,
                               imagesPerSecond: ips, secondsPerStep: median,
                               gflops: flopsPerImage * ips / 1e9, peakRSSBytes: peakRSS(), stepSeconds: times,
                               multiplyAddsPerImage: macs, activationBytes: net.activationBytes, profile: profile,
                               freeze: o.freeze.isEmpty ? nil : o.freeze)
    }

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Peak resident set size of this process (ru_maxrss is KiB on Linux).
    public static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}

public struct ProfileRow: Codable, Sendable {
    public let op: String, phase: String
    public let secondsPerStep: Double, callsPerStep: Int
    enum CodingKeys: String, CodingKey { case op, phase, secondsPerStep = "seconds_per_step", callsPerStep = "calls_per_step" }
}
