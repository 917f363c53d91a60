#pragma once
// The tools as functions, so an application that registers its own models
// (sr/models/registry.hpp) gets sr-train, sr-infer and sr-eval for them from a few lines of main:
//
//   int main(int argc, char** argv) {
//       sr::models::register_model<MyNet>({.name = "my-net", ...});
//       return sr::tools::train_main(argc, argv);   // sr-train's options and behaviour
//   }
// Link sr::tool_train, sr::tool_infer or sr::tool_eval (tools/CMakeLists.txt). Each function
// parses argv like the tool of its name and returns its exit status.
namespace sr::tools {
int train_main(int argc, char** argv);
int infer_main(int argc, char** argv);
int eval_main(int argc, char** argv);
}  // namespace sr::tools
