import Foundation

/// One record of a streamed CSV file.
///
/// The stream refills the same record on every read, so a million rows cost no allocation per row;
/// copy out whatever must outlive the next read.
public struct CSVStreamRecord: Sendable {
  /// The physical line the record starts on, counting the line breaks inside quoted fields above it.
  public internal(set) var line = 0
  /// Every field's bytes end to end, already unquoted; `ends[i]` is where field `i` stops.
  var bytes: [UInt8] = []
  var ends: [Int] = []

  public init() {}

  public var count: Int { ends.count }

  /// The field's bytes without copying them; valid only inside `body`.
  public func withField<R, E: Error>(
    _ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R
  ) throws(E) -> R {
    let range = (index == 0 ? 0 : ends[index - 1])..<ends[index]
    return try bytes.withUnsafeBufferPointer { all throws(E) in try body(UnsafeBufferPointer(rebasing: all[range])) }
  }

  public subscript(index: Int) -> String {
    withField(index) { String(decoding: $0, as: UTF8.self) }
  }

  public var fields: [String] { (0..<count).map { self[$0] } }

  mutating func reset(line: Int) {
    bytes.removeAll(keepingCapacity: true)
    ends.removeAll(keepingCapacity: true)
    self.line = line
  }

  /// A row of empty cells is what a spreadsheet leaves where a row was cleared, so it is skipped like a blank line.
  var isBlank: Bool {
    bytes.withUnsafeBufferPointer(Self.isBlank)
  }

  /// Blank the way CSVReader judges it (`.whitespaces`), answered from the bytes unless a non-ASCII
  /// byte leaves the question to Foundation.
  static func isBlank(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
    for byte in text where byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") {
      guard byte >= 0x80 else { return false }
      return String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespaces).isEmpty
    }
    return true
  }
}

/// A CSV file read a chunk at a time, so a file of millions of rows never sits in memory.
///
/// It accepts and refuses exactly what CSVReader does (UTF-8 with or without a byte-order mark, CRLF or
/// LF, RFC 4180 quoting, blank rows skipped), but works on bytes because it is the hot loop of bulk
/// imports. Unlike CSVReader it meets problems in file order, so a bad row is reported as soon as it
/// is reached.
public final class CSVStream {
  public static let defaultChunkSize = 1 << 20

  public let fileName: String
  /// The file's size when it was opened, for progress reports.
  public let totalBytes: Int
  public private(set) var bytesRead = 0
  /// The column names as the file spells them, trimmed.
  public private(set) var header: [String] = []

  private let descriptor: Int32
  /// Never smaller than the longest look-ahead (a 4-byte UTF-8 sequence), so a refill can always complete one.
  private let buffer: UnsafeMutableBufferPointer<UInt8>
  private var position = 0
  private var filled = 0
  private var exhausted = false
  private var line = 1
  private var expectedFields: Int?

  /// Opens the file and reads its header, the first record that is not blank.
  ///
  /// - Parameter fileName: how messages name the file; the path's last component when nil.
  public init(path: String, fileName: String? = nil, chunkSize: Int = defaultChunkSize) throws(KPStockError) {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .badInput("\(path): cannot read the file (does it exist?)") }
    var status = stat()
    let size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
    self.descriptor = descriptor
    self.fileName = fileName ?? (path as NSString).lastPathComponent
    self.totalBytes = size
    self.buffer = .allocate(capacity: max(chunkSize, 4))

    var start = 0
    var end = 0
    if try available(3, at: &start, end: &end), buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF {
      start = 3
    }
    if try available(2, at: &start, end: &end),
      (buffer[start] == 0xFF && buffer[start + 1] == 0xFE) || (buffer[start] == 0xFE && buffer[start + 1] == 0xFF)
    {
      throw .badInput("\(self.fileName): the file is UTF-16 text; save it as \"CSV UTF-8\"")
    }
    position = start
    filled = end

    var record = CSVStreamRecord()
    guard try next(into: &record) else {
      throw .badInput("\(self.fileName): the file is empty; it needs a header row")
    }
    header = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
    expectedFields = header.count
  }

  deinit {
    close(descriptor)
    buffer.deallocate()
  }

  /// The column's position in the header, matched case-insensitively.
  public func column(_ name: String) -> Int? {
    CSVHeader.position(of: name, in: header)
  }

  /// The same header rules as `CSVTable.requireColumns`.
  public func requireColumns(
    required: [String], optional: [String] = [], notPersonal: [String] = []
  ) throws(KPStockError) {
    try CSVHeader.requireColumns(
      header, fileName: fileName, required: required, optional: optional, notPersonal: notPersonal)
  }

  private enum State {
    case unquoted
    case quoted
    case afterQuote
  }

  /// Reads the next record that is not blank into `record`; false once the file is used up.
  public func next(into record: inout CSVStreamRecord) throws(KPStockError) -> Bool {
    let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
    let base = buffer.baseAddress!
    var i = position
    var end = filled
    var line = self.line
    var state = State.unquoted
    var fieldStart = 0
    defer {
      position = i
      filled = end
      self.line = line
    }
    record.reset(line: line)

    while true {
      if i == end {
        guard try available(1, at: &i, end: &end) else {
          if state == .quoted { throw .badInput("\(fileName):\(record.line): a quoted field is never closed") }
          guard !record.bytes.isEmpty || !record.ends.isEmpty || state == .afterQuote else { return false }
          record.ends.append(record.bytes.count)
          if record.isBlank { return false }
          try checkFieldCount(record)
          return true
        }
      }
      let byte = base[i]
      switch state {
      case .unquoted:
        var run = i
        while run < end {
          let next = base[run]
          if next >= 0x80 || next == comma || next == quote || next == lf || next == cr || next == 0 { break }
          run += 1
        }
        if run > i {
          record.bytes.append(contentsOf: UnsafeBufferPointer(start: base + i, count: run - i))
          i = run
          continue
        }
        switch byte {
        case comma:
          record.ends.append(record.bytes.count)
          fieldStart = record.bytes.count
          i += 1
        case quote:
          guard record.bytes.count == fieldStart else {
            throw .badInput(
              "\(fileName):\(line): stray quote inside a field; quote the whole field and double inner quotes")
          }
          state = .quoted
          i += 1
        case cr, lf:
          break
        default:
          try appendCharacter(to: &record, at: &i, end: &end, line: line)
          continue
        }
      case .quoted:
        var run = i
        while run < end {
          let next = base[run]
          if next >= 0x80 || next == quote || next == lf || next == 0 { break }
          run += 1
        }
        if run > i {
          record.bytes.append(contentsOf: UnsafeBufferPointer(start: base + i, count: run - i))
          i = run
          continue
        }
        switch byte {
        case quote:
          if try available(2, at: &i, end: &end), base[i + 1] == quote {
            record.bytes.append(quote)
            i += 2
          } else {
            state = .afterQuote
            i += 1
          }
        case lf:
          record.bytes.append(lf)
          line += 1
          i += 1
        default:
          try appendCharacter(to: &record, at: &i, end: &end, line: line)
        }
        continue
      case .afterQuote:
        switch byte {
        case comma:
          record.ends.append(record.bytes.count)
          fieldStart = record.bytes.count
          state = .unquoted
          i += 1
        case cr, lf:
          break
        case 0:
          throw nulByte(line: line)
        default:
          throw .badInput("\(fileName):\(line): text after a closing quote; quote the whole field")
        }
      }
      guard byte == cr || byte == lf else { continue }

      if byte == cr, try available(2, at: &i, end: &end), base[i + 1] == lf {
        i += 2
      } else {
        i += 1
      }
      line += 1
      record.ends.append(record.bytes.count)
      if record.isBlank {
        record.reset(line: line)
        state = .unquoted
        fieldStart = 0
        continue
      }
      try checkFieldCount(record)
      return true
    }
  }

  private func checkFieldCount(_ record: CSVStreamRecord) throws(KPStockError) {
    if let expectedFields, record.count != expectedFields {
      throw .badInput("\(fileName):\(record.line): has \(record.count) fields, the header has \(expectedFields)")
    }
  }

  /// Appends one non-ASCII character after checking it is well-formed UTF-8, or refuses a NUL byte.
  /// The whole sequence is checked at once, refilling if it straddles two chunks, so the line named
  /// is the one the character is on.
  private func appendCharacter(
    to record: inout CSVStreamRecord, at i: inout Int, end: inout Int, line: Int
  ) throws(KPStockError) {
    let lead = buffer[i]
    if lead == 0 { throw nulByte(line: line) }
    let length: Int
    var second: ClosedRange<UInt8> = 0x80...0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0:
      length = 3
      second = 0xA0...0xBF
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED:
      length = 3
      second = 0x80...0x9F
    case 0xF0:
      length = 4
      second = 0x90...0xBF
    case 0xF1...0xF3: length = 4
    case 0xF4:
      length = 4
      second = 0x80...0x8F
    default: throw notUTF8(line: line, byte: lead)
    }
    guard try available(length, at: &i, end: &end), second.contains(buffer[i + 1]),
      (2..<length).allSatisfy({ (0x80...0xBF).contains(buffer[i + $0]) })
    else { throw notUTF8(line: line, byte: lead) }
    record.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<i + length]))
    i += length
  }

  private func notUTF8(line: Int, byte: UInt8) -> KPStockError {
    .badInput(
      "\(fileName):\(line): not UTF-8 text (byte 0x\(String(byte, radix: 16, uppercase: true))); "
        + "save the file as \"CSV UTF-8\"")
  }

  private func nulByte(line: Int) -> KPStockError {
    .badInput("\(fileName):\(line): the file holds a NUL byte; it is not a text CSV file")
  }

  /// Whether `count` bytes are readable at `i`. If not, the unread tail moves to the front of the
  /// buffer and more of the file is read behind it, so no look-ahead ever straddles two chunks.
  private func available(_ count: Int, at i: inout Int, end: inout Int) throws(KPStockError) -> Bool {
    if end - i >= count { return true }
    let base = buffer.baseAddress!
    if i > 0 { memmove(base, base + i, end - i) }
    end -= i
    i = 0
    while !exhausted && end < buffer.count {
      let got = read(descriptor, base + end, buffer.count - end)
      if got > 0 {
        end += got
        bytesRead += got
      } else if got == 0 {
        exhausted = true
      } else if errno != EINTR {
        throw .badInput("\(fileName): cannot read the file (\(String(cString: strerror(errno))))")
      }
    }
    return end >= count
  }
}

@available(*, unavailable)
extension CSVStream: Sendable {}
