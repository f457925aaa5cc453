{
  "targets": [
    {
      "target_name": "affect_native",
      "sources": ["src/addon.cc", "src/conv.cc", "src/channels.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions"],
      "libraries": ["-lopenblas"]
    }
  ]
}
