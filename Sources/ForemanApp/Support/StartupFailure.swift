import ForemanEngine
import ForemanStore
import Foundation
import NIOCore

/// Why `foreman serve` could not start or keep running, as one line for the operator and an exit code a supervisor
/// can act on. The codes follow `sysexits.h`, so systemd's `RestartPreventExitStatus=` and launchd can tell a
/// configuration to fix from a condition to wait out.
public struct StartupFailure: Error, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32

    /// A value in the configuration cannot be used (`EX_USAGE`).
    public static let configurationCode: Int32 = 64
    /// The database cannot be opened, created or written: permissions, a full disk, a damaged file (`EX_CANTCREAT`).
    public static let databaseCode: Int32 = 73
    /// The database is in use by another foreman or locked by another process (`EX_TEMPFAIL`).
    public static let databaseBusyCode: Int32 = 75
    /// The listen address or socket cannot be bound (`EX_OSERR`).
    public static let listenCode: Int32 = 71
    /// Anything else.
    public static let otherCode: Int32 = 1

    public var description: String { message }

    /// Classifies `error`, thrown while foreman started or ran.
    public init(_ error: any Error, config: ForemanConfig) {
        switch error {
        case let error as ConfigError:
            (message, exitCode) = (error.description, Self.configurationCode)
        case let error as DatabaseLockError:
            if case .inUse = error {
                (message, exitCode) = (error.description, Self.databaseBusyCode)
            } else {
                (message, exitCode) = (error.description, Self.databaseCode)
            }
        case let error as DurabilityError:
            (message, exitCode) = ("\(config.databasePath): \(error.description)", Self.databaseCode)
        case let error as IOError where [EADDRINUSE, EADDRNOTAVAIL, EACCES].contains(error.errnoCode):
            let address = config.address.description
            (message, exitCode) = ("cannot listen on \(address): \(String(cString: strerror(error.errnoCode)))", Self.listenCode)
        default:
            if let failure = StoreFailure(error) {
                let code = failure == .locked ? Self.databaseBusyCode : Self.databaseCode
                (message, exitCode) = ("\(config.databasePath): \(failure.description)", code)
            } else if let error = error as? CocoaError, let path = error.filePath {
                (message, exitCode) = ("cannot create \(path): \(error.localizedDescription)", Self.databaseCode)
            } else {
                (message, exitCode) = (String(describing: error), Self.otherCode)
            }
        }
    }
}
