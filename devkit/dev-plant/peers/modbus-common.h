/*
 * Shared register image of the libmodbus test peers (independent of otgw: only libmodbus decides how
 * requests are framed, answered and refused). Tables: 100 coils, 100 discrete inputs, 200 holding and
 * 200 input registers, all starting at address 0; anything beyond is answered with exception 2
 * (illegal data address) by libmodbus itself.
 */
#include <modbus.h>

static modbus_mapping_t *peer_mapping(void) {
  modbus_mapping_t *m = modbus_mapping_new(100, 100, 200, 200);
  if (m == NULL) return NULL;
  /* Input registers cannot be written by a master, so they hold fixed, documented patterns. */
  m->tab_input_registers[0] = 0x42F6; /* float32 ABCD 123.456 (0x42F6E979) */
  m->tab_input_registers[1] = 0xE979;
  m->tab_input_registers[2] = 0xFFFE; /* int16 -2 */
  m->tab_input_registers[3] = 0x0001; /* uint32 big-endian words 0x0001E240 = 123456 */
  m->tab_input_registers[4] = 0xE240;
  m->tab_input_bits[3] = 1;
  m->tab_registers[10] = 1234;
  return m;
}
