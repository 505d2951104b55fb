// Uses the public API only, as a downstream project would.
#include <appose/appose.hpp>

#include <cstdio>

int main() {
  appose::NDArray a(appose::DType::float32, appose::Shape{2, 3});
  for (float& x : a.span<float>())
    x = 1.5F;
  appose::Args inputs{{"data", a}, {"gamma", 2.2}};
  auto back = inputs.at("data").get<appose::NDArray>();
  float sum = 0;
  for (float x : back.span<float>())
    sum += x;
  if (sum != 9.0F) return 1;
  std::printf("consumer ok: %s\n", inputs.to_json().dump().c_str());
  return 0;
}
