/*
 * libmodbus TCP server for otgw's peer tests.
 *   modbus-tcp-server PORT UNIT[,UNIT...]
 * Answers requests for the listed unit ids and silently ignores the others (a unit that does not
 * answer, i.e. a master-side timeout). Serves several connections at once (select), so mbpoll can
 * write while otgw polls. Prints "ready PORT" on stdout once listening.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>
#include "modbus-common.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PORT UNIT[,UNIT...]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int units[256] = {0};
  char *list = strdup(argv[2]);
  for (char *t = strtok(list, ","); t != NULL; t = strtok(NULL, ",")) units[atoi(t) & 0xff] = 1;

  modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
  modbus_mapping_t *map = peer_mapping();
  if (ctx == NULL || map == NULL) {
    fprintf(stderr, "init failed: %s\n", modbus_strerror(errno));
    return 1;
  }
  int server = modbus_tcp_listen(ctx, 16);
  if (server < 0) {
    fprintf(stderr, "listen failed: %s\n", modbus_strerror(errno));
    return 1;
  }
  printf("ready %d\n", port);
  fflush(stdout);

  fd_set all;
  FD_ZERO(&all);
  FD_SET(server, &all);
  int maxfd = server;
  uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  int header = modbus_get_header_length(ctx);
  for (;;) {
    fd_set rd = all;
    if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
      if (errno == EINTR) continue;
      perror("select");
      return 1;
    }
    for (int fd = 0; fd <= maxfd; fd++) {
      if (!FD_ISSET(fd, &rd)) continue;
      if (fd == server) {
        int c = modbus_tcp_accept(ctx, &server);
        if (c >= 0) {
          FD_SET(c, &all);
          if (c > maxfd) maxfd = c;
        }
        continue;
      }
      modbus_set_socket(ctx, fd);
      int rc = modbus_receive(ctx, query);
      if (rc > 0) {
        if (units[query[header - 1]]) modbus_reply(ctx, query, rc, map);
      } else if (rc == -1) {
        close(fd);
        FD_CLR(fd, &all);
      }
    }
  }
}
