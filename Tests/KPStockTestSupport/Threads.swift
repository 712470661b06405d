import Foundation

/// Runs `body` on a new OS thread and returns its result.
///
/// libpq calls block their thread; running them on a thread of their own keeps Swift's small
/// cooperative pool (two threads on a two-core machine) free for the other tests.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    Thread { continuation.resume(with: Result(catching: body)) }.start()
  }
}

/// Holds threads until `parties` of them have arrived, so that two sessions interleave exactly.
public final class Barrier: @unchecked Sendable {
  private let condition = NSCondition()
  private var missing: Int

  public init(parties: Int) { missing = parties }

  /// Throws when the others do not arrive in time, so a broken test fails instead of hanging.
  public func arriveAndWait(timeout: TimeInterval = 10) throws {
    condition.lock()
    defer { condition.unlock() }
    missing -= 1
    if missing == 0 {
      condition.broadcast()
      return
    }
    let deadline = Date(timeIntervalSinceNow: timeout)
    while missing > 0 {
      if !condition.wait(until: deadline) { throw BarrierTimeout() }
    }
  }
}

public struct BarrierTimeout: Error {}
