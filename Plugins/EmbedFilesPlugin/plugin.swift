import Foundation
import PackagePlugin

/// Embeds the package's `Schema/` migrations and `Seeds/` data into the `KPStock` module, so the `kpstock` binary
/// runs from any folder without resource bundles beside it.
///
/// SwiftPM runs this plugin only when it re-plans the build (after `Package.swift` or a target's source folder
/// changes), not on every build, so the file list computed here can go stale. The folders themselves are therefore
/// inputs too: adding or atomically replacing a file changes its folder, which re-runs EmbedFilesTool, and the tool
/// walks the folders again rather than trusting this list. What stays stale until the next re-plan: in-place edits
/// to a file added since, and deleting a file listed here, which the build system reports as a missing input
/// (touching `Package.swift` forces the re-plan).
@main
struct EmbedFilesPlugin: BuildToolPlugin {
  /// Top-level folders to embed, with the file extensions taken from each.
  static let sources: [(folder: String, extensions: [String])] = [
    ("Schema", ["sql"]),
    ("Seeds", ["csv", "sql"]),
  ]

  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    guard target.name == "KPStock" else { return [] }

    let root = context.package.directoryURL
    var files: [String] = []
    var folders: [String] = []
    for source in Self.sources {
      try Self.walk(
        root: root, relativePath: source.folder, extensions: Set(source.extensions), files: &files, folders: &folders)
    }
    files.sort()
    folders.sort()

    let output = context.pluginWorkDirectoryURL.appending(component: "EmbeddedFiles.swift")
    var arguments = ["--output", output.path(percentEncoded: false), "--root", root.path(percentEncoded: false)]
    for source in Self.sources {
      arguments += ["--include", "\(source.folder):\(source.extensions.joined(separator: ","))"]
    }
    arguments += ["--planned"] + files

    return [
      .buildCommand(
        displayName: "Embedding Schema and Seeds files into KPStock",
        executable: try context.tool(named: "EmbedFilesTool").url,
        arguments: arguments,
        inputFiles: (files + folders).map { root.appending(path: $0) },
        outputFiles: [output]
      )
    ]
  }

  /// Collects, relative to `root` and "/"-separated, the matching regular files and every folder under
  /// `relativePath`.
  ///
  /// Hidden entries are skipped because they are editor or OS artefacts, never data; symbolic links are skipped so
  /// the embedded set is exactly what is checked in. A missing folder means nothing to embed. EmbedFilesTool applies
  /// the same rules, so both agree on the file set.
  static func walk(
    root: URL, relativePath: String, extensions: Set<String>, files: inout [String], folders: inout [String]
  ) throws {
    let directory = root.appending(path: relativePath)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path(percentEncoded: false), isDirectory: &isDirectory),
      isDirectory.boolValue
    else { return }
    folders.append(relativePath)

    let keys: Set<URLResourceKey> = [.isRegularFileKey, .isDirectoryKey, .isSymbolicLinkKey]
    for entry in try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: Array(keys)) {
      let name = entry.lastPathComponent
      guard !name.hasPrefix(".") else { continue }
      let values = try entry.resourceValues(forKeys: keys)
      guard values.isSymbolicLink != true else { continue }
      let entryPath = "\(relativePath)/\(name)"
      if values.isDirectory == true {
        try walk(root: root, relativePath: entryPath, extensions: extensions, files: &files, folders: &folders)
      } else if values.isRegularFile == true, extensions.contains(entry.pathExtension.lowercased()) {
        files.append(entryPath)
      }
    }
  }
}
