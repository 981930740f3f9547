// Runs in the QEMU guest as root WITHOUT the sandbox (sysfs writable): onoff with the chip's base.
// Output: OTGW-GPIO onoff <json>
import { readdirSync, realpathSync } from "node:fs";

const dist = "/opt/otgw/dist";
// Where the kernel puts the sysfs class devices (the layout sysfsRange relies on).
const layout = Object.fromEntries(readdirSync("/sys/class/gpio").filter((n) => n.startsWith("gpiochip")).map((n) => [n, realpathSync(`/sys/class/gpio/${n}`)]));
layout["bus/gpio/devices/gpiochip0"] = realpathSync("/sys/bus/gpio/devices/gpiochip0");
console.log(`OTGW-GPIO sysfs-layout ${JSON.stringify(layout)}`);
const { onoffBackend, sysfsRange } = await import(`${dist}/hal/gpio/onoff.js`);
try {
  const range = sysfsRange("gpiochip0");
  const b = await onoffBackend("gpiochip0");
  const input = b.open(3, "both");
  const level = input.read();
  input.close();
  console.log(`OTGW-GPIO onoff ${JSON.stringify({ ...range, sysfsNumber: range.base + 3, level })}`);
} catch (e) {
  console.log(`OTGW-GPIO onoff ${JSON.stringify({ code: e.code ?? null, message: e.message })}`);
}
