import KPStock
import Testing

@Suite("CSV reader")
struct CSVReaderTests {
  func parse(_ text: String) throws -> CSVTable {
    try CSVReader.parse(Array(text.utf8), fileName: "f.csv")
  }

  func failure(_ bytes: [UInt8]) -> String? {
    do {
      _ = try CSVReader.parse(bytes, fileName: "f.csv")
      return nil
    } catch {
      return error.message
    }
  }

  @Test func quotedFieldsKeepCommasQuotesAndLineBreaks() throws {
    let table = try parse("code,name\nA1,\"Likoni, \"\"old\"\" DICE\"\nB2,\"two\nlines\"\nC3,plain\n")
    #expect(table.header == ["code", "name"])
    #expect(table.records.map(\.fields) == [["A1", "Likoni, \"old\" DICE"], ["B2", "two\nlines"], ["C3", "plain"]])
    #expect(table.records.map(\.line) == [2, 3, 5])
  }

  @Test func aByteOrderMarkAndCRLFLineEndingsAreAccepted() throws {
    let table = try CSVReader.parse([0xEF, 0xBB, 0xBF] + Array("code,name\r\nA1,x\r\nB2,y".utf8), fileName: "f.csv")
    #expect(table.header == ["code", "name"])
    #expect(table.records.map(\.fields) == [["A1", "x"], ["B2", "y"]])
  }

  @Test func blankLinesAreSkippedButKeepLineNumbersTrue() throws {
    let table = try parse("code\n\nA1\n\nB2\n")
    #expect(table.records.map(\.line) == [3, 5])
  }

  @Test func latin1TextIsRefusedNamingTheLine() {
    let bytes = Array("code,name\nA1,ok\nB2,Caf".utf8) + [0xE9] + Array("\n".utf8)
    #expect(failure(bytes) == "f.csv:3: not UTF-8 text (byte 0xE9); save the file as \"CSV UTF-8\"")
  }

  @Test func utf16IsRefusedWithAHint() {
    #expect(failure([0xFF, 0xFE, 0x63, 0x00]) == "f.csv: the file is UTF-16 text; save it as \"CSV UTF-8\"")
  }

  @Test func aNulByteIsRefused() {
    #expect(failure(Array("code\nA\u{0}1\n".utf8))?.contains("f.csv:2: the file holds a NUL byte") == true)
  }

  @Test func anUnclosedQuoteIsRefusedAtTheLineItOpens() {
    #expect(failure(Array("code,name\nA1,\"open\nstill open\n".utf8)) == "f.csv:2: a quoted field is never closed")
  }

  @Test func aRowWithTheWrongNumberOfFieldsIsRefused() {
    #expect(failure(Array("code,name\nA1\n".utf8)) == "f.csv:2: expected 2 fields as in the header, found 1")
  }

  @Test func anEmptyFileNeedsAHeader() {
    #expect(failure([]) == "f.csv: the file is empty; it needs a header row")
  }

  @Test func columnsAreMatchedCaseInsensitivelyAndTyposAreRefused() throws {
    let table = try parse("Code,NAME\nA1,x\n")
    try table.requireColumns(required: ["code", "name"], notPersonal: ["name"])
    #expect(throws: KPStockError.self) {
      try parse("code,nmae\nA1,x\n").requireColumns(required: ["code"], optional: ["name"], notPersonal: ["name"])
    }
    #expect(throws: KPStockError.self) {
      try parse("name\nx\n").requireColumns(required: ["code", "name"], notPersonal: ["name"])
    }
  }

  @Test func everyBadRowIsReportedBeforeAnythingIsKept() throws {
    let table = try parse("n\n1\nx\n3\ny\n")
    do {
      _ = try table.parseRecords { row throws(FieldError) in
        try FieldParsing.integer(row["n"], field: "n", range: 0...10)
      }
      Issue.record("expected an error")
    } catch {
      #expect(error.details == ["f.csv:3: n: 'x' is not a whole number", "f.csv:5: n: 'y' is not a whole number"])
      #expect(error.message == "nothing imported: 2 of 4 rows in f.csv have errors")
    }
  }
}
