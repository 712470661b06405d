import Foundation
import KPStockTestSupport
import Postgres
import Testing

/// A fresh database of one's own and the real `kpstock` binary pointed at it through `DATABASE_URL`.
struct CLI {
  let database: TestDatabaseHandle
  let process: KPStockProcess

  /// - Parameter demo: also load the Kwale demo network with `kpstock db seed --demo kwale`.
  init(demo: Bool = false) throws {
    database = try TestDatabase.fresh()
    process = KPStockProcess(database: database)
    if demo {
      let seeded = try run("db", "seed", "--demo", "kwale")
      try #require(seeded.status == 0, "db seed --demo kwale failed: \(seeded.stderr)")
    }
  }

  @discardableResult
  func run(_ arguments: String...) throws -> KPStockProcess.Outcome {
    try process.run(arguments)
  }

  @discardableResult
  func run(_ arguments: [String]) throws -> KPStockProcess.Outcome {
    try process.run(arguments)
  }

  /// The single integer a query returns, e.g. a `count(*)`, read straight from the database.
  func integer(_ query: Query) throws -> Int {
    try database.connect().query(query)[0].decode(at: 0)
  }

  /// The single optional text a query returns, read straight from the database.
  func text(_ query: Query) throws -> String? {
    try database.connect().query(query)[0].decode(at: 0)
  }

  /// `kpstock … --format json` for a one-record command, parsed.
  func jsonObject(_ arguments: String...) throws -> [String: Any] {
    let outcome = try run(arguments + ["--format", "json"])
    try #require(outcome.status == 0, "\(arguments) failed: \(outcome.stderr)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any],
      "not a JSON object: \(outcome.stdout)")
  }

  /// `kpstock … --format json` for a listing, parsed.
  func jsonArray(_ arguments: String...) throws -> [[String: Any]] {
    let outcome = try run(arguments + ["--format", "json"])
    try #require(outcome.status == 0, "\(arguments) failed: \(outcome.stderr)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [[String: Any]],
      "not a JSON array of objects: \(outcome.stdout)")
  }
}

extension KPStockProcess.Outcome {
  /// stdout split into lines, without the empty string after the final newline.
  var outputLines: [String] {
    stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
  }

  var errorLines: [String] {
    stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
  }
}

/// A refused command: exit status 2, nothing on stdout, and exactly `kpstock: error: MESSAGE` on stderr.
func expectRefused(
  _ outcome: KPStockProcess.Outcome, _ message: String, sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(outcome.status == 2, "exit status; stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
  #expect(outcome.stdout == "", sourceLocation: sourceLocation)
  #expect(outcome.stderr == "kpstock: error: \(message)\n", sourceLocation: sourceLocation)
}

/// A command that worked: exit status 0 and no error output.
func expectSuccess(_ outcome: KPStockProcess.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(outcome.status == 0, "exit status; stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
  #expect(!outcome.stderr.contains("error"), "stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
}

/// A file holding exactly `bytes`, for encodings and line endings a Swift string literal would not keep.
func temporaryFile(named name: String, bytes: [UInt8]) throws -> String {
  let path = try temporaryFile(named: name, contents: "")
  try Data(bytes).write(to: URL(fileURLWithPath: path))
  return path
}

/// Removes a file made by `temporaryFile` together with its private folder.
func removeTemporaryFile(_ path: String) {
  try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

/// The ten sites of the Kwale demo network.
let kwaleSites: Set<String> = [
  "STORE-KWALE", "DICE-UKUNDA", "DICE-KWALE", "SAT-KINANGO", "SAT-LUNGALUNGA", "SAT-MATUGA", "SAT-MSAMBWENI",
  "MAT-KOMBANI", "PRISON-KWALE", "HOSP-MSAMBWENI",
]

let siteColumns = [
  "code", "name", "kind", "county", "county_name", "sub_county", "dhis2_uid", "opened_on", "closed_on",
]

/// The migrations in Schema/, by name, in the order kpstock applies them.
let schemaMigrations: [String] = {
  let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Schema")
  let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
  return files.filter { $0.hasSuffix(".sql") }.map { String($0.dropLast(4)) }.sorted()
}()

/// Everything a new database gets, in the order kpstock applies it: the migrations, then Schema/functions/.
let schemaFiles: [String] = {
  let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "../../Schema/functions")
  let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
  return schemaMigrations + files.filter { $0.hasSuffix(".sql") }.map { "functions/" + $0.dropLast(4) }.sorted()
}()
