#!/usr/bin/env bash
# The experiment-file language's tests on their own: builds only the ExperimentFileTests target (AblateCore,
# ExperimentFile, Yams) in a separate build folder, links those objects into one test executable, runs it, and fails
# if that executable needs oneDNN, OpenBLAS or any other library of the engine, the store or the report.
# (`swift test` on Linux links every test target into one bundle; this shows the language does not need the rest.)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build-experiment-file}
mkdir -p "$out"
# Reuse the main build folder's package checkouts (no network needed).
for f in checkouts repositories workspace-state.json; do
  [ -e "$out/$f" ] || { [ -e ".build/$f" ] && cp -a ".build/$f" "$out/"; } || true
done
swift build --build-path "$out" --target ExperimentFileTests
b="$out/debug"
compiled=$(for d in "$b"/*.build; do [ -n "$(find "$d" -name "*.o" -print -quit)" ] && basename "$d" .build || true; done | sort | tr "\n" " ")
echo "compiled: $compiled"
# An XCTest main listing each test class's test methods.
main="$out/experiment-file-tests-main/main.swift"
mkdir -p "$(dirname "$main")"
{
  echo "import XCTest"
  echo "@testable import ExperimentFileTests"
  classes=()
  for f in Tests/ExperimentFileTests/*.swift; do
    awk '/^final class [A-Za-z]+: XCTestCase/ { if (c) print "]) }"; c=$3; sub(":", "", c); printf "extension %s { static let allTests: [(String, (%s) -> () throws -> Void)] = ([", c, c; n=0 }
         /^    func test[A-Za-z0-9_]*\(\)/ && c { name=$2; sub(/\(.*/, "", name); printf "%s(\"%s\", %s)", (n++ ? ", " : ""), name, name }
         END { if (c) print "]) }" }' "$f"
    classes+=($(sed -n 's/^final class \([A-Za-z]*\): XCTestCase.*/\1/p' "$f"))
  done
  printf "XCTMain(["; sep=""; for c in "${classes[@]}"; do printf "%stestCase(%s.allTests)" "$sep" "$c"; sep=", "; done; echo "])"
} > "$main"
yaml=$(find "$out/checkouts/Yams/Sources/CYaml/include" -name module.modulemap)
swiftc -I "$b/Modules" -module-cache-path "$b/ModuleCache" -Xcc -fmodule-map-file="$yaml" -Xcc -I"$(dirname "$yaml")" \
  "$main" "$b"/AblateCore.build/*.o "$b"/ExperimentFile.build/*.o "$b"/ExperimentFileTests.build/*.o "$b"/Yams.build/*.o \
  $(find "$b/CYaml.build" -name '*.o') -lXCTest -o "$out/experiment-file-tests"
if ldd "$out/experiment-file-tests" | grep -iE 'dnnl|blas|gomp|cairo|turbojpeg|png|sqlite'; then
  echo "the language's tests link a library of the engine, store or report" >&2
  exit 1
fi
echo "linked without oneDNN, OpenBLAS, libgomp, Cairo, TurboJPEG, libpng or SQLite"
"$out/experiment-file-tests"
