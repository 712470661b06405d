/// SQL text whose interpolated values become `$n` parameters, never part of the text.
///
///     let rows = try connection.query("SELECT name FROM sites WHERE county_code = \(county)")
///
/// Raw SQL can only enter through names that say so: `Query(unsafeSQL:)` and
/// `\(unsafeRaw: …)`. `\(identifier: …)` quotes a name; `\(fragment)` splices another query.
/// Literals are `StaticString`s, so even `Query(stringLiteral:)` cannot be handed a runtime string.
public struct Query: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
  enum Segment: Sendable {
    case sql(String)
    case bind(PostgresBind)
  }

  var segments: [Segment]

  public init(stringLiteral value: StaticString) {
    segments = [.sql(value.text)]
  }

  public init(stringInterpolation: StringInterpolation) {
    segments = stringInterpolation.segments
  }

  /// SQL from a source the caller vouches for (a migration file, a constant); never user input.
  public init(unsafeSQL sql: String) {
    segments = [.sql(sql)]
  }

  /// The text sent to the server, with `$1…$n` in place of the values.
  public var sql: String { rendered.sql }

  public var binds: [PostgresBind] { rendered.binds }

  var rendered: (sql: String, binds: [PostgresBind]) {
    var sql = ""
    var binds: [PostgresBind] = []
    for segment in segments {
      switch segment {
      case .sql(let text): sql += text
      case .bind(let bind):
        binds.append(bind)
        sql += "$\(binds.count)"
      }
    }
    return (sql, binds)
  }

  public var description: String { sql }

  public static func + (lhs: Query, rhs: Query) -> Query {
    var result = lhs
    result.segments += rhs.segments
    return result
  }

  public static func += (lhs: inout Query, rhs: Query) {
    lhs.segments += rhs.segments
  }

  /// Joins fragments, e.g. optional WHERE conditions, with a separator such as `" AND "`.
  ///
  /// The separator is a `Query` rather than a `String` so that only a literal, or SQL that says
  /// `unsafe`, can become part of the statement's text.
  public static func joined(_ parts: [Query], separator: Query) -> Query {
    var result = Query(unsafeSQL: "")
    for (index, part) in parts.enumerated() {
      if index > 0 { result.segments += separator.segments }
      result.segments += part.segments
    }
    return result
  }

  public struct StringInterpolation: StringInterpolationProtocol {
    var segments: [Segment] = []

    public init(literalCapacity: Int, interpolationCount: Int) {
      segments.reserveCapacity(interpolationCount * 2 + 1)
    }

    public mutating func appendLiteral(_ literal: StaticString) {
      segments.append(.sql(literal.text))
    }

    public mutating func appendInterpolation(_ value: some PostgresEncodable) {
      segments.append(.bind(value.postgresBind))
    }

    public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
      segments.append(.bind(value?.postgresBind ?? .null))
    }

    public mutating func appendInterpolation(bind: PostgresBind) {
      segments.append(.bind(bind))
    }

    /// Splices another query, keeping its values as parameters.
    public mutating func appendInterpolation(_ fragment: Query) {
      segments += fragment.segments
    }

    /// A table or column name, double-quoted so it can never be read as SQL.
    public mutating func appendInterpolation(identifier: String) {
      segments.append(.sql("\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""))
    }

    /// Text pasted into the SQL as-is. Only for text the program itself wrote.
    public mutating func appendInterpolation(unsafeRaw sql: String) {
      segments.append(.sql(sql))
    }
  }
}

extension StaticString {
  fileprivate var text: String {
    withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
  }
}
