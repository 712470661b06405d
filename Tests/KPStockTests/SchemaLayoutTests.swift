import Foundation
import KPStock
import KPStockTestSupport
import Testing

/// Schema/ reads as one ledger: tables in forward-only migrations, and every function and trigger defined once, in
/// the repeatable files under Schema/functions/, where grep finds it.
@Suite("Schema layout")
struct SchemaLayoutTests {
  static let schema = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appending(path: "Schema")

  static func sqlFiles() throws -> [(name: String, text: String)] {
    let enumerator = FileManager.default.enumerator(at: schema, includingPropertiesForKeys: nil)
    var files: [(String, String)] = []
    while let url = enumerator?.nextObject() as? URL {
      guard url.pathExtension == "sql" else { continue }
      files.append(
        (url.path.replacingOccurrences(of: schema.path + "/", with: ""), try String(contentsOf: url, encoding: .utf8)))
    }
    return files.sorted { $0.0 < $1.0 }
  }

  /// Names created by `CREATE [OR REPLACE] FUNCTION|TRIGGER name` in a file's text, once per creation.
  static func definitions(_ text: String) -> [String] {
    text.matches(of: /(?i)create\s+(?:or\s+replace\s+)?(function|trigger)\s+([a-z_0-9.]+)/).map { match in
      "\(match.output.1.lowercased()) \(match.output.2.lowercased())"
    }
  }

  @Test func everyFunctionAndTriggerIsDefinedInExactlyOnePlace() throws {
    var places: [String: [String]] = [:]
    for file in try Self.sqlFiles() {
      for name in Self.definitions(file.text) { places[name, default: []].append(file.name) }
    }
    #expect(!places.isEmpty)
    for (name, files) in places.sorted(by: { $0.key < $1.key }) where files.count > 1 {
      Issue.record("\(name) is defined \(files.count) times: \(files.joined(separator: ", "))")
    }
  }

  @Test func migrationsHoldTablesAndFunctionsLiveInRepeatableFiles() throws {
    for file in try Self.sqlFiles() {
      let repeatable = file.name.hasPrefix("functions/")
      let creations = Self.definitions(file.text)
      if repeatable {
        #expect(
          file.text.range(of: #"(?i)create\s+(function|trigger)\s"#, options: .regularExpression) == nil,
          "\(file.name): a repeatable file is applied again whenever it changes, so it must say CREATE OR REPLACE")
        // An index on a session's temporary table (an import's typed rows) is the function's own working space.
        #expect(
          file.text.range(of: #"(?i)create\s+(table|type|index\s+(?!on\s+pg_temp\.))"#, options: .regularExpression)
            == nil,
          "\(file.name): tables, types and indexes belong in a numbered migration")
      } else {
        #expect(creations.isEmpty, "\(file.name) defines \(creations); move them to Schema/functions/")
      }
    }
  }

  @Test func theLayoutCheckFindsADefinitionRepeated() {
    let text = """
      CREATE OR REPLACE FUNCTION ledger_book() RETURNS void LANGUAGE sql AS $$ SELECT 1 $$;
      create function LEDGER_BOOK() returns void language sql as $$ select 1 $$;
      """
    #expect(Self.definitions(text) == ["function ledger_book", "function ledger_book"])
  }

  /// The text of every single-quoted string in SQL, comments left out: what the schema can say to a person.
  static func stringLiterals(_ text: String) -> [String] {
    var literals: [String] = []
    var current: String?
    var characters = text[...]
    while let character = characters.popFirst() {
      if var literal = current {
        if character == "'" {
          if characters.first == "'" {
            characters.removeFirst()
            literal.append("'")
            current = literal
          } else {
            literals.append(literal)
            current = nil
          }
        } else {
          literal.append(character)
          current = literal
        }
      } else if character == "'" {
        current = ""
      } else if character == "-", characters.first == "-" {
        characters = characters.drop { $0 != "\n" }
      }
    }
    return literals
  }

  /// Refusals are worded by field, and the CLI names the field's flag (README, "Rules have one home"): no message in
  /// the schema names a flag, which would be wrong for an import row or another client.
  @Test func noMessageInTheSchemaNamesACommandLineFlag() throws {
    #expect(Self.stringLiterals("SELECT 'a -- b', 'it''s --site' -- 'not --this'\n") == ["a -- b", "it's --site"])
    for file in try Self.sqlFiles() {
      for literal in Self.stringLiterals(file.text) where literal.contains(/--[a-z]/) {
        Issue.record("\(file.name): '\(literal)' names a flag; word it by its field")
      }
    }
  }

  /// A database made before 0001–0006 were squashed cannot be upgraded in place; it is refused, saying what to do.
  @Test func aDatabaseFromBeforeTheSquashIsRefusedWithWhatToDo() throws {
    let database = try TestDatabase.fresh()
    let raw = try database.connect()
    try raw.execute("INSERT INTO schema_migrations (name, checksum) VALUES ('0003_ledger_import', 'e57f3db7')")
    #expect(throws: StoreUnavailable.madeBeforeSquash(migration: "0003_ledger_import")) {
      _ = try Store.open(conninfo: database.conninfo)
    }
  }
}
