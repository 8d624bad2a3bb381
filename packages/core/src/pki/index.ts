export * from './keys';
export * from './pem';
export * from './Certificate';
export * from './issuance';
export * from './CertificationPath';
