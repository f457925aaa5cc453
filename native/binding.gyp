{
  "targets": [
    {
      "target_name": "affect_native",
      "sources": ["src/addon.cc", "src/conv.cc", "src/channels.cc", "src/matmul.cc", "src/elementwise.cc", "src/optimizer.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-fno-math-errno", "<!@(pkg-config --cflags openblas 2>/dev/null || true)"],
      "libraries": ["<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"]
    }
  ]
}
