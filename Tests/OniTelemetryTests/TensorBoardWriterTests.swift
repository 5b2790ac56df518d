import Foundation
import OniTelemetry
import Testing

@Suite struct TensorBoardWriterTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)  // RFC 3720 test vector
    }

    /// The event file reads in TensorBoard's own reader: every tag, step and value comes back.
    @Test func tensorBoardReadsTheScalars() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oni-tb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let writer = try TensorBoardWriter(directory: directory)
            try writer.write(step: 512, values: ["env/fps": 2500, "learner/loss_value": 0.25, "env/success_rate": .nan])
            try writer.write(step: 1024, values: ["env/fps": 2600.5, "learner/loss_value": 0.125])
            #expect(writer.path.contains("events.out.tfevents."))
        }
        let script = """
            import sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            acc = EventAccumulator(sys.argv[1]); acc.Reload()
            for tag in sorted(acc.Tags()["scalars"]):
                for e in acc.Scalars(tag): print(tag, e.step, e.value)
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = [ProcessInfo.processInfo.environment["ONI_TEST_PYTHON"] ?? "python3", "-c", script, directory]
        let output = Pipe()
        python.standardOutput = output
        python.standardError = FileHandle.nullDevice
        try python.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        try #require(python.terminationStatus == 0, "the tensorboard package is needed in ONI_TEST_PYTHON's environment (bash deploy/test.sh installs it)")
        #expect(
            text.split(separator: "\n") == [
                "env/fps 512 2500.0", "env/fps 1024 2600.5", "learner/loss_value 512 0.25", "learner/loss_value 1024 0.125",
            ], "\(text)")
    }
}
