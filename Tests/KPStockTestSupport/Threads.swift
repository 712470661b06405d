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

/// Runs `body` on a new OS thread at once, without waiting for Swift's cooperative pool (which other suites'
/// blocking libpq calls may hold), and hands its result over when asked.
public final class ThreadOutcome<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private let finished = DispatchSemaphore(value: 0)
  private var result: Result<T, any Error>?

  public init(_ body: @escaping @Sendable () throws -> T) {
    Thread.detachNewThread { [self] in
      let value = Result(catching: body)
      lock.withLock { result = value }
      finished.signal()
    }
  }

  /// nil when the thread has not finished within `seconds`.
  public func wait(seconds: Double) -> Result<T, any Error>? {
    guard finished.wait(timeout: .now() + seconds) == .success else { return nil }
    return lock.withLock { result }
  }
}
