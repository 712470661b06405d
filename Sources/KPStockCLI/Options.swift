import ArgumentParser
import KPStock
import Postgres

struct DatabaseOptions: ParsableArguments {
  @Option(
    name: .customLong("database-url"),
    help: ArgumentHelp(
      "PostgreSQL URL or conninfo to use instead of the embedded cluster.",
      discussion: "Default: $DATABASE_URL, then libpq's PG* variables, then kpstock's embedded cluster.",
      valueName: "url"))
  var databaseURL: String?

  var target: DatabaseTarget { DatabaseTarget.resolve(databaseURL: databaseURL) }

  /// Opens the database, starting the embedded cluster and migrating as needed.
  func open(migrate: Bool = true) throws -> Connection {
    try KPStockDatabase.open(target, migrate: migrate, notice: Console.notice)
  }
}

struct FormatOption: ParsableArguments {
  @Option(help: "Output format: table, csv or json.")
  var format: OutputFormat = .table
}

extension OutputFormat: ExpressibleByArgument {}

/// Names a field the way the person typed it: `--pack-size` for an option, `CODE` for an argument.
struct FlagNames {
  var renamed: [String: String] = [:]

  func flag(for column: String) -> String {
    renamed[column] ?? "--" + column.replacingOccurrences(of: "_", with: "-")
  }

  /// Runs validation, turning a field failure into a one-line CLI error that names the flag.
  func check<T>(_ body: () throws(FieldError) -> T) throws(KPStockError) -> T {
    do {
      return try body()
    } catch {
      throw KPStockError.badInput("\(flag(for: error.field)): \(error.problem)")
    }
  }
}

/// Database work wrapped so that a refused statement reads as a sentence naming the flag, not a SQLSTATE.
@discardableResult
func withDatabaseErrors<T>(_ flags: FlagNames = FlagNames(), _ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as PostgresError {
    throw KPStockError.describing(error, fieldName: flags.flag(for:))
  }
}

/// Resolves a code argument, giving `unknown site 'X' (did you mean Y?)` on a miss.
func resolve(_ input: String, in lookup: CodeLookup) throws(KPStockError) -> String {
  do {
    return try lookup.resolve(input, field: "code")
  } catch {
    throw KPStockError.badInput(error.problem)
  }
}
