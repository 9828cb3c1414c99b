import Dispatch
import Foundation

/// Times the pHash comparison on generated hashes: `count` references and as many queries with 8 orientation
/// hashes each, a tenth of them planted copies (a reference's hash with up to `radius` bits flipped).
public struct HashBenchmark: Codable, Sendable {
    public let count: Int
    public let radius: Int
    /// The all-pairs bit-count scan (every query's 8 hashes against every reference), on all cores.
    public let scanSeconds: Double?
    /// Multi-index hashing: building the table, then the look-ups.
    public let indexBuildSeconds: Double
    public let indexQuerySeconds: Double
    public let plantedFound: Int
    public let planted: Int

    /// References, queries (8 hashes each) and which reference each planted query copies.
    static func generate(count: Int, radius: Int, seed: UInt64) -> ([UInt64], [[UInt64]], [Int: Int]) {
        var rng = SplitMix64(seed: seed)
        let references = (0..<count).map { _ in rng.next() }
        var queries: [[UInt64]] = [], plantedOf: [Int: Int] = [:]
        for q in 0..<count {
            var hashes = (0..<8).map { _ in rng.next() }
            if q % 10 == 0 {
                let source = rng.below(count)
                var h = references[source]
                for _ in 0..<rng.below(radius + 1) { h ^= 1 << UInt64(rng.below(64)) }
                hashes[rng.below(8)] = h
                plantedOf[q] = source
            }
            queries.append(hashes)
        }
        return (references, queries, plantedOf)
    }

    /// `scan`: also time the all-pairs scan (quadratic: minutes at 100,000).
    public static func run(count: Int, radius: Int = NearDuplicateThresholds.standard.hamming, seed: UInt64 = 1,
                           scan: Bool) -> HashBenchmark {
        let (references, queries, plantedOf) = generate(count: count, radius: radius, seed: seed)
        var scanSeconds: Double?
        if scan {
            let start = Date()
            nonisolated(unsafe) let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
            defer { hits.deallocate() }
            DispatchQueue.concurrentPerform(iterations: count) { q in
                var n = 0
                for r in references where PerceptualHash.distance(queries[q], r) <= radius { n += 1 }
                hits[q] = n
            }
            scanSeconds = Date().timeIntervalSince(start)
        }
        let built = Date()
        let table = MultiIndexHashTable(references: references, radius: radius)
        let queried = Date()
        nonisolated(unsafe) let found = UnsafeMutableBufferPointer<Bool>.allocate(capacity: count)
        found.initialize(repeating: false)
        defer { found.deallocate() }
        DispatchQueue.concurrentPerform(iterations: count) { q in
            let neighbours = table.neighbours(of: queries[q])
            if let source = plantedOf[q] { found[q] = neighbours.contains(source) }
        }
        let done = Date()
        return HashBenchmark(count: count, radius: radius, scanSeconds: scanSeconds,
                             indexBuildSeconds: queried.timeIntervalSince(built), indexQuerySeconds: done.timeIntervalSince(queried),
                             plantedFound: found.filter { $0 }.count, planted: plantedOf.count)
    }
}
