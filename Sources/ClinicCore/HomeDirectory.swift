import Foundation

/// The user's home directory as the shell has it: `$HOME` when it is an absolute path (as
/// every Unix tool reads it), else the account's home from the password database. Foundation's
/// `homeDirectoryForCurrentUser` reads only the latter on Linux, so `HOME=/elsewhere clinic`
/// would find a different store from the one the quick start made there.
public var userHomeDirectory: URL {
    if let home = ProcessInfo.processInfo.environment["HOME"], home.hasPrefix("/") {
        return URL(fileURLWithPath: home, isDirectory: true)
    }
    return FileManager.default.homeDirectoryForCurrentUser
}
