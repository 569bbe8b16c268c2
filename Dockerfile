# libpoll on Debian 12. Builds the library, its examples and pollscope (Release, in unity
# batches, as the sanitizer builds of scripts/test.sh compile them) and installs them; the
# default command is the main job: pollscope running its built-in default scenario (TCP loopback
# pairs under a closed-loop load, with a leak check), the JSON report on stdout.
#   buildah bud --isolation=chroot -t libpoll .      (or docker build -t libpoll .)
# The test suites run outside the image, in every configuration (scripts/test.sh); here every
# shipped scenario is validated by the installed pollscope. CI builds this through scripts/image.sh.
#   podman run --rm libpoll
FROM debian:bookworm

WORKDIR /src/libpoll
COPY . .
RUN scripts/setup.sh --build-only && rm -rf /var/lib/apt/lists/* \
 && scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DLIBPOLL_BUILD_TESTS=OFF \
      -DLIBPOLL_BUILD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON \
 && cmake --install build \
 && for scenario in scenarios/*.json; do \
      case $scenario in */scenario.schema.json) continue ;; esac; \
      pollscope validate "$scenario" >/dev/null || exit 1; \
    done

CMD ["pollscope", "run"]
