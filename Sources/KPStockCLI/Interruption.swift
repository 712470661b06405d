import Dispatch
import Foundation
import KPStock

/// Ctrl-C or a kill (SIGINT, SIGTERM) must not leave the server working for a client that is gone: an import's
/// backend would hold the import lock and the balance rows it writes until its statement ended, and a dispense at
/// that site would wait without a word. So the first signal cancels whatever the connections are running on the
/// server; the command then fails and rolls back as on any error, and Main says it was interrupted. A second
/// signal, or one before any connection is open, stops at once, as the default action would.
enum Interruption {
  private static let state = State()

  /// Takes SIGINT and SIGTERM over from their default action; call once, before anything connects.
  static func install() {
    let queue = DispatchQueue(label: "kpstock.interruption")
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler { handle(number) }
      source.resume()
      state.keep(source)
    }
  }

  /// Makes a signal cancel what `store` is running.
  static func watch(_ store: Store) {
    if let canceller = store.canceller() { state.add(canceller) }
  }

  /// The signal that interrupted the command, if one did.
  static var received: Int32? { state.received }

  private static func handle(_ number: Int32) {
    guard let cancellers = state.firstSignal(number), !cancellers.isEmpty else {
      Console.error("kpstock: error: interrupted; stopped at once")
      _exit(128 + number)
    }
    for canceller in cancellers { canceller.cancel() }
  }

  private final class State: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []
    private var cancellers: [StatementCanceller] = []
    private var signal: Int32?

    func keep(_ source: any DispatchSourceSignal) { lock.withLock { sources.append(source) } }

    func add(_ canceller: StatementCanceller) { lock.withLock { cancellers.append(canceller) } }

    var received: Int32? { lock.withLock { signal } }

    /// The connections to cancel when this is the first signal; nil when one came before.
    func firstSignal(_ number: Int32) -> [StatementCanceller]? {
      lock.withLock {
        guard signal == nil else { return nil }
        signal = number
        return cancellers
      }
    }
  }
}

/// A command that commits as it goes says what an interrupted run keeps, where "nothing was written" would be false.
protocol CommitsAsItGoes {
  static var keptWhenInterrupted: String { get }
}
