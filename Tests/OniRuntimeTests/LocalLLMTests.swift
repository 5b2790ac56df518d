import Foundation
import OniCore
import OniRuntime
import Testing

@Suite struct LocalLLMTests {
    private func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oni-llm-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func findsTheServerAndModelWhereSetupPutsThem() throws {
        let home = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let environment = ["HOME": home, "PATH": "/nonexistent"]
        #expect(throws: LocalLLMError.notInstalled(what: "llama-server", searched: LocalLLM.serverCandidates(environment: environment))) {
            try LocalLLM.locate(environment: environment)
        }
        let serverDir = home + "/.local/share/oni/llama-server-\(LocalLLM.serverBuild)"
        let modelDir = home + "/.local/share/oni/models"
        try FileManager.default.createDirectory(atPath: serverDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: serverDir + "/llama-server", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        do {
            _ = try LocalLLM.locate(environment: environment)
            Issue.record("found a model that is not there")
        } catch let error {
            #expect(error.description.contains("model \(LocalLLM.defaultModelFile) not found"))
            #expect(error.description.contains("deploy/setup-llm.sh"))
        }
        #expect(FileManager.default.createFile(atPath: modelDir + "/" + LocalLLM.defaultModelFile, contents: Data("GGUF".utf8)))
        let found = try LocalLLM.locate(environment: environment)
        #expect(found.server == serverDir + "/llama-server")
        #expect(found.modelName == "qwen2.5-coder-1.5b-instruct-q4_k_m")
        // An explicit model file wins; a missing one is named.
        #expect(throws: LocalLLMError.self) { try LocalLLM.locate(modelPath: home + "/other.gguf", environment: environment) }
        // The model's identity carries its file's SHA-256, which the server reports as its alias.
        #expect(found.identity == "qwen2.5-coder-1.5b-instruct-q4_k_m@sha256:" + String(SHA256.hex("GGUF").prefix(16)))
        let arguments = found.arguments(port: 5561, threads: 1, slots: 4, contextSize: 8192, alias: found.identity)
        #expect(arguments.contains("127.0.0.1") && arguments.contains("5561") && arguments.contains(found.identity))
    }

    /// The digest is kept beside the file and computed again only when the file changes.
    @Test func aModelsDigestIsKeptUntilTheFileChanges() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oni-model-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: path + ".sha256") }
        try Data("abc".utf8).write(to: URL(fileURLWithPath: path))
        #expect(ModelDigest.of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")  // FIPS 180-2's "abc"
        let kept = try String(contentsOfFile: path + ".sha256", encoding: .utf8)
        #expect(kept.hasPrefix("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad 3 "))
        // A sidecar that matches the file is believed (so the file is not read again)…
        let forged = kept.replacingOccurrences(of: "ba7816bf", with: "00000000")
        try forged.write(toFile: path + ".sha256", atomically: true, encoding: .utf8)
        #expect(ModelDigest.of(path)?.hasPrefix("00000000") == true)
        // …until the file changes: another size, another time.
        try Data("abcd".utf8).write(to: URL(fileURLWithPath: path))
        #expect(ModelDigest.of(path) == "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589")
        #expect(ModelDigest.of(path + ".missing") == nil)
    }
}
