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

  /// Opens the database, starting the embedded cluster and migrating as needed. A signal from then on cancels
  /// what the connection runs on the server (see Interruption).
  func open(migrate: Bool = true, seedReference: Bool = true) throws -> Connection {
    let connection = try KPStockDatabase.open(
      target, migrate: migrate, seedReference: seedReference, notice: Console.notice)
    Interruption.watch(connection)
    return connection
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

  /// Runs domain work, turning a field failure or a database refusal into a one-line error that names
  /// the flag; other kpstock errors pass through.
  @discardableResult
  func check<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as FieldError {
      throw KPStockError.badInput("\(flag(for: error.field)): \(error.problem)")
    } catch let error as PostgresError {
      throw KPStockError.describing(error, fieldName: flag(for:))
    }
  }
}
