// Example (d): the tools for an application's own model. With tiny-rcan registered, this program
// is sr-train, sr-infer and sr-eval for it (and for the built-ins):
//   my_tools train --profile tiny-rcan --dataset photos/ ...
//   my_tools eval -m tiny-rcan-x2.safetensors -d photos/
#include <cstdio>
#include <cstring>

#include "sr_tools.hpp"
#include "tiny_rcan.hpp"

int main(int argc, char** argv) {
    example::register_tiny_rcan();
    const char* tool = argc > 1 ? argv[1] : "";
    if (!std::strcmp(tool, "train")) return sr::tools::train_main(argc - 1, argv + 1);
    if (!std::strcmp(tool, "infer")) return sr::tools::infer_main(argc - 1, argv + 1);
    if (!std::strcmp(tool, "eval")) return sr::tools::eval_main(argc - 1, argv + 1);
    std::fprintf(stderr, "usage: my_tools train|infer|eval <the options of sr-train, sr-infer or sr-eval>\n");
    return 2;
}
