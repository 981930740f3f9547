/*
 * libmodbus RTU slave for otgw's peer tests, on a serial device (a socat pty in the tests).
 *   modbus-rtu-slave DEVICE BAUD SLAVE_ID
 * libmodbus filters requests for other slave ids itself (they time out at the master).
 * Prints "ready" on stdout once the device is open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "modbus-common.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s DEVICE BAUD SLAVE_ID\n", argv[0]);
    return 2;
  }
  modbus_t *ctx = modbus_new_rtu(argv[1], atoi(argv[2]), 'N', 8, 1);
  modbus_mapping_t *map = peer_mapping();
  if (ctx == NULL || map == NULL) {
    fprintf(stderr, "init failed: %s\n", modbus_strerror(errno));
    return 1;
  }
  modbus_set_slave(ctx, atoi(argv[3]));
  /* After a frame for another slave, libmodbus keeps reading for up to one byte timeout (default
   * 500 ms) and would swallow the master's next request. On a real line 3.5 character times of
   * silence end a frame; a pty has no line timing, so keep the wait short (50 ms) instead. */
  modbus_set_byte_timeout(ctx, 0, 50000);
  if (modbus_connect(ctx) == -1) {
    fprintf(stderr, "cannot open %s: %s\n", argv[1], modbus_strerror(errno));
    return 1;
  }
  /* Holding register 11 counts answered requests, so a test can see the slave is alive. */
  printf("ready\n");
  fflush(stdout);
  uint8_t query[MODBUS_RTU_MAX_ADU_LENGTH];
  for (;;) {
    int rc = modbus_receive(ctx, query);
    if (rc > 0) {
      map->tab_registers[11]++;
      modbus_reply(ctx, query, rc, map);
    } else if (rc == -1 && errno == EBADF) {
      return 1;
    }
    /* rc == 0: request for another slave (ignored); rc == -1 otherwise: bad frame, keep serving. */
  }
}
