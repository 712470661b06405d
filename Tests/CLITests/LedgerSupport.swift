import Foundation
import KPStockTestSupport
import Postgres
import Testing

/// The day every ledger test takes as today. Pinned through the ledger's simulated clock (`kpstock.today`),
/// so expected output can name dates and the back-dating window has fixed edges: 2026-01-01 is the oldest
/// day a 60-day window accepts.
let ledgerToday = "2026-03-02"

extension CLI {
  /// The Kwale demo, with today pinned to `ledgerToday` for every process that connects to this database.
  static func ledger() throws -> CLI {
    let cli = try CLI(demo: true)
    try cli.database.connect().execute(
      "ALTER DATABASE \(identifier: cli.database.name) SET kpstock.today = '\(unsafeRaw: ledgerToday)'")
    return cli
  }

  /// How many events the ledger holds. Events are append-only, so an unchanged count after a run of
  /// refused commands means none of them wrote anything.
  func events() throws -> Int {
    try integer("SELECT count(*)::int FROM stock_events")
  }

  /// Runs a command that must succeed and returns its stdout.
  @discardableResult
  func record(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    try record(arguments, sourceLocation: sourceLocation)
  }

  @discardableResult
  func record(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let outcome = try run(arguments)
    expectSuccess(outcome, sourceLocation: sourceLocation)
    return outcome.stdout
  }

  /// Every case must be refused with exactly its message, and together they must leave no event behind.
  func expectEveryCaseRefused(
    _ base: [String], _ cases: [(changes: [String: String?], message: String)],
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let before = try events()
    for (changes, message) in cases {
      let arguments = base.changing(changes)
      let outcome = try run(arguments)
      #expect(outcome.status == 2, "\(arguments): exit status", sourceLocation: sourceLocation)
      #expect(outcome.stdout == "", "\(arguments): stdout", sourceLocation: sourceLocation)
      #expect(outcome.stderr == "kpstock: error: \(message)\n", "\(arguments)", sourceLocation: sourceLocation)
    }
    #expect(try events() == before, "no refused command may write an event", sourceLocation: sourceLocation)
  }
}

extension [String] {
  /// These arguments with each option in `changes` set to its value (added when absent) or removed (nil).
  /// A key that does not start with `--` names the positional argument at that index: `["0": "99"]`.
  func changing(_ changes: [String: String?]) -> [String] {
    var arguments = self
    for (flag, value) in changes.sorted(by: { $0.key < $1.key }) {
      if let position = Int(flag) {
        arguments[position] = value ?? ""
        continue
      }
      if let index = arguments.firstIndex(of: flag) {
        if let value {
          arguments[index + 1] = value
        } else {
          arguments.removeSubrange(index...index + 1)
        }
      } else if let value {
        arguments += [flag, value]
      }
    }
    return arguments
  }
}

/// 501 characters: one more than a note may hold.
let overlongNote = String(repeating: "n", count: 501)
/// 101 characters: one more than an idempotency key may hold.
let overlongKey = String(repeating: "k", count: 101)
