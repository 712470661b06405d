import KPStock
import Postgres

/// SQL straight on a store's connection, for tests that set a database up or check what the domain wrote.
extension Store {
  @discardableResult
  public func execute(_ query: Query) throws -> Int {
    try connection.execute(query)
  }

  public func query(_ query: Query) throws -> QueryResult {
    try connection.query(query)
  }

  public var statementsSent: Int { connection.statementsSent }
}
