import Foundation
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
        #expect(found.modelName == "qwen2.5-coder-0.5b-instruct-q4_k_m")
        // An explicit model file wins; a missing one is named.
        #expect(throws: LocalLLMError.self) { try LocalLLM.locate(modelPath: home + "/other.gguf", environment: environment) }
        let arguments = found.arguments(port: 5561, threads: 1, slots: 4, contextSize: 8192)
        #expect(arguments.contains("127.0.0.1") && arguments.contains("5561") && arguments.contains("--alias"))
    }
}
