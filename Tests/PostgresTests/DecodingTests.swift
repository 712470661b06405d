import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("Decoding columns into Swift types")
struct DecodingTests {
  @Test func integersDecodeAcrossTheirWholeRange() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query(
      """
      SELECT 9223372036854775807::int8 AS int_max, (-9223372036854775807 - 1)::int8 AS int64_min,
             2147483647::int4 AS int32_max, -42 AS small, 0::int2 AS zero
      """)[0]
    #expect(try row.decode("int_max", as: Int.self) == Int.max)
    #expect(try row.decode("int64_min", as: Int64.self) == Int64.min)
    #expect(try row.decode("int32_max", as: Int32.self) == Int32.max)
    #expect(try row.decode("small", as: Int.self) == -42)
    #expect(try row.decode("small", as: Int32.self) == -42)
    #expect(try row.decode("zero", as: Int64.self) == 0)
  }

  @Test func anIntegerTooBigForInt32IsADecodingError() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query("SELECT 2147483648::int8 AS wide")[0]
    #expect(try row.decode("wide", as: Int.self) == 2_147_483_648)
    let error = try #require(throws: RowDecodingError.self) { try row.decode("wide", as: Int32.self) }
    #expect(error.column == "wide")
    #expect(error.value == "2147483648")
  }

  @Test func doublesDecodeIncludingNaNAndInfinities() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query(
      """
      SELECT 0.1::float8 AS tenth, 'NaN'::float8 AS nan, 'Infinity'::float8 AS inf,
             '-Infinity'::float8 AS minus_inf, 1e-300::float8 AS tiny, '-0'::float8 AS minus_zero
      """)[0]
    #expect(try row.decode("tenth", as: Double.self) == 0.1)
    #expect(try row.decode("nan", as: Double.self).isNaN)
    #expect(try row.decode("inf", as: Double.self) == .infinity)
    #expect(try row.decode("minus_inf", as: Double.self) == -.infinity)
    #expect(try row.decode("tiny", as: Double.self) == 1e-300)
    #expect(try row.decode("minus_zero", as: Double.self).sign == .minus)
  }

  @Test func doublesRoundTripBitForBit() throws {
    let connection = try TestDatabase.fresh().connect()
    let values: [Double] = [
      0.1, .pi, -1.0 / 3.0, 1e300, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .infinity, -.infinity,
    ]
    for value in values {
      let back: Double = try connection.value("SELECT \(value)::float8")
      #expect(back.bitPattern == value.bitPattern, "\(value)")
    }
    #expect(try connection.value("SELECT \(Double.nan)::float8", as: Double.self).isNaN)
    #expect(try connection.value("SELECT \(Double.nan) = 'NaN'::float8", as: Bool.self))
  }

  @Test func numericKeepsEveryDigitAsDecimal() throws {
    let connection = try TestDatabase.fresh().connect()
    let text = "12345678901234567890.123456789"
    let expected = try #require(Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")))
    let row = try connection.query(
      "SELECT 12345678901234567890.123456789::numeric AS big, -0.000001::numeric AS small, 'NaN'::numeric AS nan")[0]
    #expect(try row.decode("big", as: Decimal.self) == expected)
    #expect(try row.decode("small", as: Decimal.self) == Decimal(sign: .minus, exponent: -6, significand: 1))
    #expect(try row.decode("nan", as: Decimal.self).isNaN)

    // Bound as a parameter, the server sees the same digits.
    #expect(try connection.value("SELECT \(expected)::numeric::text") == text)
    #expect(try connection.value("SELECT \(expected) = \(unsafeRaw: text)::numeric", as: Bool.self))
    #expect(try connection.value("SELECT \(expected)::numeric * 2", as: Decimal.self) == expected * 2)
  }

  @Test func textAndBooleansDecode() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query("SELECT 'Lodwar'::text AS town, 'x'::char(3) AS padded, true AS yes, false AS no")[0]
    #expect(try row.decode("town", as: String.self) == "Lodwar")
    #expect(try row.decode("padded", as: String.self) == "x  ")
    #expect(try row.decode("yes", as: Bool.self) == true)
    #expect(try row.decode("no", as: Bool.self) == false)
    #expect(throws: RowDecodingError.self) { try row.decode("town", as: Bool.self) }
  }

  @Test func aTimestamptzDecodesToTheSameInstantInAnyOffset() throws {
    let connection = try TestDatabase.fresh().connect()
    // 2026-11-23 09:34:56.789 UTC.
    let expected = Date(timeIntervalSince1970: 1_795_426_496.789)
    let row = try connection.query(
      """
      SELECT '2026-11-23 12:34:56.789+03'::timestamptz AS nairobi,
             '2026-11-23 04:04:56.789-05:30'::timestamptz AS offset_minutes,
             '2026-11-23 09:34:56.789'::timestamp AS naive
      """)[0]
    #expect(row.text("nairobi") == "2026-11-23 09:34:56.789+00")
    #expect(try row.decode("nairobi", as: Date.self) == expected)
    #expect(try row.decode("offset_minutes", as: Date.self) == expected)
    #expect(try row.decode("naive", as: Date.self) == expected)
  }

  @Test func fractionalSecondsDecodeToTheNearestRepresentableInstant() throws {
    let connection = try TestDatabase.fresh().connect()
    // Thousands of instants with scattered microsecond parts, before and after the epoch; the server
    // builds each from an exact integer, so only our parsing of its text can be off.
    let rows = try connection.query(
      """
      SELECT 'epoch'::timestamptz + s * interval '1 microsecond' AS t, s
      FROM (SELECT 1795406875000000 + g * 7919 FROM generate_series(0, 2999) AS g
            UNION ALL SELECT -1234567890000000 - g * 104729 FROM generate_series(0, 999) AS g
            UNION ALL VALUES (1795426496999999), (1795426496000001), (1000000000000000)) AS v(s)
      """)
    #expect(rows.count == 4003)
    var wrong: [Int] = []
    for row in rows {
      let microseconds: Int = try row.decode("s")
      let date: Date = try row.decode("t")
      if date != Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
        || Int((date.timeIntervalSince1970 * 1_000_000).rounded()) != microseconds
      {
        wrong.append(microseconds)
      }
    }
    #expect(wrong.count == 0, "decoded inexactly, e.g. \(wrong.prefix(3)) µs")
  }

  @Test func aDateColumnDecodesToMidnightUTC() throws {
    let connection = try TestDatabase.fresh().connect()
    let date: Date = try connection.value("SELECT '2024-02-29'::date")
    #expect(date == Date(timeIntervalSince1970: 1_709_164_800))
  }

  @Test func aDateColumnDecodesToCalendarDateIncludingALeapDay() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query(
      "SELECT '2024-02-29'::date AS leap, '2024-02-28'::date + 1 AS next, '0001-01-01'::date AS first")[0]
    let leap = try #require(CalendarDate(year: 2024, month: 2, day: 29))
    #expect(try row.decode("leap", as: CalendarDate.self) == leap)
    #expect(try row.decode("next", as: CalendarDate.self) == leap)
    #expect(try row.decode("first", as: CalendarDate.self) == CalendarDate(year: 1, month: 1, day: 1))

    // Bound, the server reads the same day and does its own arithmetic on it.
    #expect(
      try connection.value("SELECT \(leap) + 1", as: CalendarDate.self) == CalendarDate(year: 2024, month: 3, day: 1))
    #expect(try connection.value("SELECT \(leap) - '2024-01-01'::date", as: Int.self) == 59)
    #expect(CalendarDate(year: 2026, month: 2, day: 29) == nil)
  }

  /// Text is read as a day only in exactly the shape the server writes, YYYY-MM-DD with ASCII digits, and only for a
  /// day that exists; the day's text is that shape again, zero-padded.
  @Test func aDateIsReadOnlyFromItsExactTextAndWrittenBackTheSame() {
    #expect(CalendarDate("2024-02-29") == CalendarDate(year: 2024, month: 2, day: 29))
    #expect(CalendarDate("0001-01-01")?.description == "0001-01-01")
    #expect(CalendarDate("2026-03-05")?.description == "2026-03-05")
    for text in [
      "2026-02-29", "2026-13-01", "2026-00-10", "2026-1-05", "2026-01-5", "26-01-05", "2026/01/05", "2026-01-05 ",
      "+026-01-05", "2026-0a-05", "２０２６-01-05", "", "2026-01-050",
    ] {
      #expect(CalendarDate(text) == nil, "\(text)")
    }
  }

  @Test func aDateBoundAndReadBackIsEqualToTheMicrosecond() throws {
    let connection = try TestDatabase.fresh().connect()
    let dates = [
      Date(timeIntervalSince1970: 1_795_426_496.123456),
      Date(timeIntervalSince1970: -1_234_567_890.654321),
      Date(timeIntervalSince1970: 0),
      Date(timeIntervalSince1970: 951_782_400.000001),  // 2000-02-29 00:00:00.000001
      Date(),
    ]
    for date in dates {
      let back: Date = try connection.value("SELECT \(date)::timestamptz")
      let microseconds = (date.timeIntervalSince1970 * 1_000_000).rounded()
      #expect((back.timeIntervalSince1970 * 1_000_000).rounded() == microseconds, "\(date)")
      #expect(abs(back.timeIntervalSince(date)) < 0.000_001, "\(date)")
      // The server's own reading of the bound value agrees, independent of our parser.
      let serverMicroseconds: Int = try connection.value(
        "SELECT (extract(epoch FROM \(date)::timestamptz) * 1000000)::int8")
      #expect(Double(serverMicroseconds) == microseconds, "\(date)")
    }
  }

  @Test func uuidsDecodeInAnyCase() throws {
    let connection = try TestDatabase.fresh().connect()
    let expected = try #require(UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"))
    #expect(try connection.value("SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", as: UUID.self) == expected)
    let fresh = UUID()
    #expect(try connection.value("SELECT \(fresh)", as: UUID.self) == fresh)
    #expect(try connection.value("SELECT \(fresh)::text = \(fresh.uuidString.lowercased())", as: Bool.self))
  }

  @Test func optionalsDecodeNullAsNil() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query("SELECT NULL::int AS missing, 5 AS present, NULL::text AS note, NULL::date AS day")[
      0]
    #expect(try row.decode("missing", as: Int?.self) == nil)
    #expect(try row.decode("present", as: Int?.self) == 5)
    #expect(try row.decode("note", as: String?.self) == nil)
    #expect(try row.decode("day", as: CalendarDate?.self) == nil)
    // A present value that does not parse is still an error, not nil.
    #expect(throws: RowDecodingError.self) {
      try connection.query("SELECT 'abc'::text AS v")[0].decode("v", as: Int?.self)
    }
  }

  @Test func aStringArrayBindsEveryElementVerbatimForAny() throws {
    let connection = try TestDatabase.fresh().connect()
    let wanted = ["plain", "it's", "a,b", #"back\slash"#, "quote\"d", "{brace}", "NULL", "", " padded ", "é🐄"]
    let unnested = try connection.query(
      "SELECT v FROM unnest(\(PostgresArray(wanted))) WITH ORDINALITY AS t(v, n) ORDER BY n"
    ).map { try $0.decode("v", as: String.self) }
    #expect(unnested == wanted)
    #expect(try connection.value("SELECT count(*) FROM unnest(\(PostgresArray(wanted))) v WHERE v IS NULL") == 0)

    try connection.execute("CREATE TABLE any_probe (v text)")
    for value in wanted + ["a", "b", "NUL", "quote", "other"] {
      try connection.execute("INSERT INTO any_probe VALUES (\(value))")
    }
    let found = try connection.query("SELECT v FROM any_probe WHERE v = ANY(\(PostgresArray(wanted)))")
      .map { try $0.decode("v", as: String.self) }
    #expect(Set(found) == Set(wanted))
    #expect(found.count == wanted.count)
    #expect(try connection.value("SELECT count(*) FROM any_probe WHERE v = ANY(\(PostgresArray([String]())))") == 0)
  }

  @Test func anIntArrayBindsForAny() throws {
    let connection = try TestDatabase.fresh().connect()
    let primes = try connection.query(
      "SELECT id FROM generate_series(1, 20) AS id WHERE id = ANY(\(PostgresArray([2, 3, 5, 7, 11, 13, 17, 19, -1]))) ORDER BY id"
    ).map { try $0.decode("id", as: Int.self) }
    #expect(primes == [2, 3, 5, 7, 11, 13, 17, 19])
    #expect(try connection.value("SELECT cardinality(\(PostgresArray([Int]())))", as: Int.self) == 0)
  }

  @Test func aResultReportsItsColumnsAndAffectedRows() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("CREATE TABLE shape_probe (id int, note text)")
    #expect(try connection.execute("INSERT INTO shape_probe SELECT g, 'n' FROM generate_series(1, 7) g") == 7)
    #expect(try connection.execute("UPDATE shape_probe SET note = \("m") WHERE id <= \(3)") == 3)
    let result = try connection.query("SELECT id, note AS remark FROM shape_probe ORDER BY id")
    #expect(result.columns == ["id", "remark"])
    #expect(result.count == 7)
    #expect(result[0].text(at: 1) == "m")
    #expect(result[6].text("remark") == "n")
  }

  @Test func aValueThatDoesNotParseNamesItsColumn() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query("SELECT 1 AS id, 'abc'::text AS quantity")[0]
    let error = try #require(throws: RowDecodingError.self) { try row.decode("quantity", as: Int.self) }
    #expect(error.column == "quantity")
    #expect(error.value == "abc")
    #expect(error.expectedType == "Int")
    #expect(error.description.contains("quantity"))
    #expect(error.description.contains("abc"))

    let byPosition = try #require(throws: RowDecodingError.self) { try row.decode(at: 1, as: Date.self) }
    #expect(byPosition.column == "quantity")
  }

  @Test func nullIntoANonOptionalSaysNull() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query("SELECT NULL::text AS note")[0]
    let error = try #require(throws: RowDecodingError.self) { try row.decode("note", as: String.self) }
    #expect(error.column == "note")
    #expect(error.value == nil)
    #expect(error.description.contains("NULL"))
    #expect(error.description.contains("note"))
  }

  @Test func aColumnIsFoundWhereverItIsWhenTheExpectedPlaceIsWrong() throws {
    let connection = try TestDatabase.fresh().connect()
    let result = try connection.query("SELECT 1 AS a, 2 AS b, 3 AS c")
    #expect(result.position(of: "b", expectedAt: 1) == 1)
    #expect(result.position(of: "b", expectedAt: 0) == 1)
    #expect(result.position(of: "b", expectedAt: 9) == 1)
    #expect(result.position(of: "b", expectedAt: -1) == 1)
    #expect(result.position(of: "d", expectedAt: 2) == nil)
  }

  @Test func aMissingColumnNameThrows() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query("SELECT 1 AS id")[0]
    let error = try #require(throws: RowDecodingError.self) { try row.decode("identifier", as: Int.self) }
    #expect(error.column == "identifier")
    #expect(error.description.contains("identifier"))
    #expect(row.text("identifier") == nil)
  }
}
