/// SQL text whose interpolated values become `$n` parameters, never part of the text.
///
///     let rows = try connection.query("SELECT name FROM sites WHERE county_code = \(county)")
///
/// Raw SQL can only enter through names that say so: `Query(unsafeSQL:)` and
/// `\(unsafeRaw: …)`. `\(identifier: …)` quotes a name; `\(fragment)` splices another query.
/// Literals are `StaticString`s, so even `Query(stringLiteral:)` cannot be handed a runtime string.
public struct Query: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
  @usableFromInline
  enum Segment: Sendable {
    /// A literal of the source, kept as it is: made into a String only when the statement's text is rendered, once.
    case literal(StaticString)
    case sql(String)
    case bind(PostgresBind)
  }

  @usableFromInline
  var segments: [Segment]

  public init(stringLiteral value: StaticString) {
    segments = [.literal(value)]
  }

  @inlinable
  public init(stringInterpolation: StringInterpolation) {
    segments = stringInterpolation.segments
  }

  /// SQL from a source the caller vouches for (a migration file, a constant); never user input.
  public init(unsafeSQL sql: String) {
    segments = [.sql(sql)]
  }

  /// The text sent to the server, with `$1…$n` in place of the values.
  public var sql: String { rendered.sql }

  public var binds: [PostgresBind] { keyed.binds }

  /// The text and values, the text rendered from the statement's key (one home for `$n` numbering).
  var rendered: (sql: String, binds: [PostgresBind]) {
    let (key, binds) = keyed
    return (key.sql, binds)
  }

  /// The statement's key and its values, without its text: a session that runs the statement again finds it
  /// prepared by the key alone. Rendering the everyday dispense's thirty-odd segments to find it by its text cost
  /// 13 k of the 51 k instructions this process spent on a post; making and finding the key costs 7 k
  /// (docs/benchmarks.md, fourteenth round).
  var keyed: (key: PreparedKey, binds: [PostgresBind]) {
    var key = PreparedKey()
    key.parts.reserveCapacity(segments.count)
    var binds: [PostgresBind] = []
    binds.reserveCapacity(segments.count / 2)
    for segment in segments {
      switch segment {
      case .literal(let literal): key.appendLiteral(literal)
      case .sql(let sql): key.appendSQL(sql)
      case .bind(let bind):
        binds.append(bind)
        key.appendParameter(type: bind.typeOID)
      }
    }
    return (key, binds)
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

  /// Inlinable, so that a statement's segments are laid out by code specialised for its values' types: called as
  /// generics across the module boundary, each optional value cost a look-up of its type's metadata at run time.
  public struct StringInterpolation: StringInterpolationProtocol {
    @usableFromInline
    var segments: [Segment] = []

    @inlinable
    public init(literalCapacity: Int, interpolationCount: Int) {
      segments.reserveCapacity(interpolationCount * 2 + 1)
    }

    @inlinable
    public mutating func appendLiteral(_ literal: StaticString) {
      segments.append(.literal(literal))
    }

    @inlinable
    public mutating func appendInterpolation(_ value: some PostgresEncodable) {
      segments.append(.bind(value.postgresBind))
    }

    @inlinable
    public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
      segments.append(.bind(value?.postgresBind ?? .null))
    }

    @inlinable
    public mutating func appendInterpolation(bind: PostgresBind) {
      segments.append(.bind(bind))
    }

    /// Splices another query, keeping its values as parameters.
    @inlinable
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
