import Foundation
import KPStockTestSupport
import Postgres

struct UnexpectedShape: Error {
  var rows: Int
  var columns: [String]
}

/// An error a test body throws on purpose.
struct DeliberateFailure: Error, Equatable {
  var reason = "deliberate"
}

extension Connection {
  /// The single value of a one-row, one-column query.
  func value<T: PostgresDecodable>(_ query: Query, as type: T.Type = T.self) throws -> T {
    let result = try self.query(query)
    guard result.count == 1, result.columns.count == 1 else {
      throw UnexpectedShape(rows: result.count, columns: result.columns)
    }
    return try result[0].decode(at: 0)
  }

  func count(_ table: String) throws -> Int {
    try value("SELECT count(*) FROM \(identifier: table)")
  }

  func tableExists(_ name: String) throws -> Bool {
    try value("SELECT to_regclass(\(name)) IS NOT NULL")
  }
}
