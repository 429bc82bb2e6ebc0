// The web page's static files (sam/serve/web/), compiled into the binary by
// embed_files.cmake at build time: no files to install, no CDN.
#pragma once

#include <string_view>

namespace sam::serve {

struct WebAsset {
  std::string_view path;          // URL path, e.g. "/app.js" ("/index.html" also serves "/")
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view data;
};

// The asset served at `path`, or null.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace sam::serve
