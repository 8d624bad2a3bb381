export { BindingError, ServiceUnavailableError } from './errors';
export {
  type CargoDeliveryReport,
  type CargoToDeliver,
  type DeliveryInput,
  type DeliveryOptions,
  type DeliveryReport,
  type DeliverySource,
  type ParcelDeliveryReport,
  type ParcelToDeliver,
  type PulledDelivery,
} from './delivery';
export {
  type BindingServer,
  type CargoDeliveryClient,
  type MessageHandler,
  type ParcelDeliveryClient,
} from './contracts';
