import Foundation

/// Where the NetHack Learning Environment's files are: the `nle` folder of the
/// nle 1.3.0 wheel (`libnethack.so`, `nethackdir/nhdat`), unpacked by
/// `deploy/setup.sh`. Found by an explicit path, then `ONI_NLE_DIR`, then
/// the default place the setup script uses.
public struct NLEInstallation: Sendable, Equatable {
    /// The folder holding `nle/libnethack.so`.
    public let root: URL
    public var library: URL { root.appendingPathComponent("nle/libnethack.so") }
    public var data: URL { root.appendingPathComponent("nle/nethackdir/nhdat") }

    /// `~/.local/share/oni/nle-1.3.0`, where `deploy/setup.sh` unpacks the wheel.
    public static var defaultRoot: URL {
        FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/oni/nle-1.3.0")
    }

    /// The command that installs it.
    public static let installHint =
        "run `bash deploy/setup.sh` (it fetches the nle==1.3.0 wheel with `pip download nle==1.3.0 --no-deps --only-binary=:all: "
        + "--platform manylinux2014_x86_64 --python-version 3.11` and unpacks it to ~/.local/share/oni/nle-1.3.0), or set ONI_NLE_DIR "
        + "to a folder holding the wheel's nle/ directory"

    /// Finds the installation; throws `nleMissing` naming where it looked and how to install it.
    public static func locate(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws(EnvironmentError)
        -> NLEInstallation
    {
        var candidates: [URL] = []
        if let explicit { candidates.append(URL(fileURLWithPath: explicit)) }
        if let variable = environment["ONI_NLE_DIR"], !variable.isEmpty { candidates.append(URL(fileURLWithPath: variable)) }
        if explicit == nil { candidates.append(defaultRoot) }
        for root in candidates {
            let installation = NLEInstallation(root: root)
            if FileManager.default.isReadableFile(atPath: installation.library.path)
                && FileManager.default.isReadableFile(atPath: installation.data.path)
            {
                return installation
            }
        }
        throw .nleMissing(searched: candidates.map(\.path), hint: installHint)
    }
}
