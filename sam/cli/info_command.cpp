#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "engine/runtime.h"
#include "engine/text.h"
#include "sam/io/model_file.h"

namespace sam::cli {

Command add_info_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("info", "Describe a converted model file (and this machine's kernels)");
  sub->add_option("-m,--model", *model, "converted model (.safetensors from sam-convert)")->required();
  return {sub, [model]() {
            const ModelFile m = ModelFile::open(*model);
            const auto& meta = m.file.metadata();
            auto get = [&](const char* k) {
              auto it = meta.find(k);
              return it == meta.end() ? std::string("-") : engine::printable(it->second);  // text from the file
            };
            fmt::print("model        {}\n", engine::printable(*model));
            if (!m.config->tinyvit_dims.empty())  // MobileSAM's TinyViT encoder
              fmt::print("variant      {} (TinyViT encoder: stage widths {}, depths {}, heads {}, windows {})\n",
                         m.config->name, fmt::join(m.config->tinyvit_dims, ","),
                         fmt::join(m.config->tinyvit_depths, ","), fmt::join(m.config->tinyvit_heads, ","),
                         fmt::join(m.config->tinyvit_windows, ","));
            else
              fmt::print("variant      {} (encoder width {}, depth {}, heads {}, global blocks {})\n", m.config->name,
                         m.config->encoder_embed_dim, m.config->encoder_depth, m.config->encoder_num_heads,
                         fmt::join(m.config->global_attn_indexes, ","));
            fmt::print("tensors      {}\n", m.file.entries().size());
            fmt::print("parameters   {}\n", m.parameter_count());
            for (const auto& [dtype, bytes] : m.bytes_by_dtype())
              fmt::print("bytes {:<6} {}\n", dtype, bytes);
            fmt::print("converter    {}\n", get("converter"));
            fmt::print("source       {} ({}), sha256 {}\n", get("source_file"), get("source_format"),
                       get("source_sha256"));
            fmt::print("cpu          {}\n", engine::cpu_description());
            fmt::print("kernels      {}\n", engine::kernel_variants());
            fmt::print("gemm         {}\n", engine::gemm_description());
            fmt::print("precision    {} ({}; --precision f32|bf16 or SAM_PRECISION)\n",
                       engine::precision_name(engine::runtime_options().precision), engine::bf16_gemm_description());
            return 0;
          }};
}

}  // namespace sam::cli
