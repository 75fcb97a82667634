// Trains one step of a tiny model through the installed package and checks the version macros.
#include <cff/cff.hpp>

#include <cstring>
#include <iostream>

int main() {
  if (std::strcmp(cff::version(), CFF_VERSION_STRING) != 0) return 1;
  cff::Config c;
  c.model.embed_dim = 8;
  c.model.num_layers = 2;
  c.model.height = c.model.width = 4;
  c.model.num_classes = 2;
  c.train.device = "cpu";
  cff::Trainer trainer(c);
  const auto losses = trainer.step(torch::rand({6, 1, 4, 4}), torch::tensor({0, 1, 0, 1, 0, 1}));
  std::cout << "consumer ok, " << losses.size() << " layer losses\n";
  return losses.size() == 2 ? 0 : 1;
}
