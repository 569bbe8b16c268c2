/* A statically linked program: LD_PRELOAD cannot reach it, so `pollscope trace` refuses it. */
int main(void) {
  return 0;
}
