#!/usr/bin/env bash
# Regenerates Sources/OniWire/Generated from proto/oni/v1/*.proto.
#
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift from
# swift-protobuf 1.39.0, the runtime version Package.swift pins. If
# PROTOC_GEN_SWIFT is unset, the plugin is built once (about 3 minutes on two
# cores) into .build-protoc-gen-swift/ from the package's own checkout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }

plugin=${PROTOC_GEN_SWIFT:-}
if [[ -z $plugin ]]; then
  swift package resolve >/dev/null
  src="$root/.build/checkouts/swift-protobuf"
  [[ -d $src ]] || { echo "swift-protobuf checkout missing at $src" >&2; exit 1; }
  swift build -c release --package-path "$src" --scratch-path "$root/.build-protoc-gen-swift" --product protoc-gen-swift
  plugin="$root/.build-protoc-gen-swift/release/protoc-gen-swift"
fi

out="$root/Sources/OniWire/Generated"
find "$out" -name '*.pb.swift' -delete
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
  --swift_out="$out" -I "$root/proto" "$root"/proto/oni/v1/*.proto
echo "generated: $(ls "$out"/*.pb.swift | wc -l) files in ${out#$root/}"
